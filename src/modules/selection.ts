/**
 * Which fields a query selects below the field being resolved, e.g. the fields of `edges { node { … } }` of a page:
 * what a resolver loads ahead for its children. Fragments (named and inline) are followed; @skip and @include are
 * not evaluated, so a field they leave out still counts as selected (loaded for nothing, never missing).
 */
import { Kind, type FieldNode, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

function fieldsOf(set: SelectionSetNode, fragments: Record<string, FragmentDefinitionNode>, out: FieldNode[] = [], seen = new Set<string>()): FieldNode[] {
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) out.push(selection);
    else if (selection.kind === Kind.INLINE_FRAGMENT) fieldsOf(selection.selectionSet, fragments, out, seen);
    else if (!seen.has(selection.name.value) && fragments[selection.name.value]) {
      seen.add(selection.name.value);
      fieldsOf(fragments[selection.name.value].selectionSet, fragments, out, seen);
    }
  }
  return out;
}

/** The names of the fields selected at `path` (field names, not aliases) below the field `info` resolves. */
export function selectedFields(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, path: readonly string[]): ReadonlySet<string> {
  let sets = info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
  for (const name of path) {
    sets = sets.flatMap((set) => fieldsOf(set, info.fragments).flatMap((f) => (f.name.value === name && f.selectionSet ? [f.selectionSet] : [])));
  }
  return new Set(sets.flatMap((set) => fieldsOf(set, info.fragments).map((f) => f.name.value)));
}
