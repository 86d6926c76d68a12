/**
 * Limits on what one operation may ask for, the same over HTTP (Apollo) and WebSocket (graphql-ws):
 * - tokens: graphql-js's own `maxTokens` parse option (graphql-armor's max-tokens package is the same lexer count as a
 *   parser subclass; the built-in one needs no package and Apollo takes it as `parseOptions`). Parsing stops there.
 * - depth, aliases, directives: graphql-armor's validation rules (per-rule packages: armor's `protect()` also brings
 *   envelop plugins, and graphql-ws needs plain rules anyway).
 * - cost: our own rule below. It needs the request's variables (`first: $n`), which validation rules never see, so it
 *   runs after validation: in Apollo's `didResolveOperation` hook and in graphql-ws `onSubscribe`.
 * Every refusal but the token one is GRAPHQL_VALIDATION_FAILED (Apollo gives validation-rule errors that code anyway)
 * with HTTP 400; the token one is GRAPHQL_PARSE_FAILED. Messages name the limit and what the operation had.
 */
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  getNamedType,
  getNullableType,
  getOperationAST,
  isCompositeType,
  isListType,
  isObjectType,
  parse,
  specifiedRules,
  validate,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type FieldNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import type { SubscribePayload } from 'graphql-ws';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../platform/pagination';

export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  maxCost: number;
}

/**
 * Measured on the documented queries (test/integration/limits.test.ts checks them): the README's market-data query
 * costs 862, its orders/positions/portfolio/trades/metrics query 1,078; the deepest test query (100 orders with
 * trades, order, account, positions, account orders(first: 3)) costs 9,801 at depth 8. The same query with
 * orders(first: 1000) costs 98,001 and is refused; 100 orders with trades and their orders still pass.
 */
export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxDepth: 12, maxAliases: 30, maxTokens: 3000, maxDirectives: 20, maxCost: 50_000 };

/** Size assumed for a list field without `first` (Order.trades, Account.positions, positions, …). */
export const LIST_ESTIMATE = 10;

const VALIDATION_FAILED = 'GRAPHQL_VALIDATION_FAILED';

/** armor reports "Syntax Error: …" and can throw; we report a validation error instead, which validate() collects. */
const report = (ctx: ValidationContext | null, error: GraphQLError) =>
  ctx?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, ''), { extensions: { code: VALIDATION_FAILED } }));
const armor = { propagateOnRejection: false, onReject: [report] };

/** Depth, aliases and directives: validation rules for Apollo's `validationRules` and for graphql-ws. */
export function limitRules(limits: QueryLimits): ValidationRule[] {
  return [
    maxDepthRule({ ...armor, n: limits.maxDepth }),
    maxAliasesRule({ ...armor, n: limits.maxAliases }),
    maxDirectivesRule({ ...armor, n: limits.maxDirectives }),
  ] as ValidationRule[];
}

/**
 * Cost of an operation: each field costs 1 plus its selections' cost times the number of items it returns: `first`
 * for a connection (a literal or a variable, default 100, at most 1000 since no page is larger), LIST_ESTIMATE for
 * another list, 1 for an object. A connection's `edges` is its page, already counted by `first`. Fragments are
 * costed once each (so a fragment bomb costs what it expands to without being expanded).
 */
export function queryCost(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown> | null | undefined): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const fragmentCost = new Map<string, number>();
  const defaults = new Map<string, unknown>();
  for (const v of operation.variableDefinitions ?? []) {
    if (v.defaultValue?.kind === Kind.INT) defaults.set(v.variable.name.value, Number(v.defaultValue.value));
  }

  const pageSize = (node: FieldNode): number => {
    const arg = node.arguments?.find((a) => a.name.value === 'first')?.value;
    let value: unknown;
    if (arg?.kind === Kind.INT) value = Number(arg.value);
    else if (arg?.kind === Kind.VARIABLE) value = variables?.[arg.name.value] ?? defaults.get(arg.name.value);
    // Anything else (absent, null, not an integer) means the default page, or a resolver error before any work.
    return typeof value === 'number' && Number.isInteger(value) ? Math.min(Math.max(value, 0), MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
  };
  const itemCount = (parent: GraphQLCompositeType, field: GraphQLField<unknown, unknown>, node: FieldNode): number => {
    if (field.args.some((a) => a.name === 'first')) return pageSize(node);
    if (!isListType(getNullableType(field.type))) return 1;
    return parent.name.endsWith('Connection') ? 1 : LIST_ESTIMATE;
  };
  const cost = (parent: GraphQLCompositeType, set: SelectionSetNode): number => {
    let total = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        // __typename costs a field; introspection (__schema, __type) is allowed or refused as a whole elsewhere.
        if (sel.name.value.startsWith('__')) { total += 1; continue; }
        const field = isObjectType(parent) ? parent.getFields()[sel.name.value] : undefined;
        if (!field) continue; // validation refused unknown fields already
        const type = getNamedType(field.type);
        const children = sel.selectionSet && isCompositeType(type) ? cost(type, sel.selectionSet) : 0;
        total += 1 + children * itemCount(parent, field, sel);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const type = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent;
        total += isCompositeType(type) ? cost(type, sel.selectionSet) : 0;
      } else {
        const name = sel.name.value;
        if (!fragmentCost.has(name)) {
          const fragment = fragments.get(name);
          const type = fragment && schema.getType(fragment.typeCondition.name.value);
          fragmentCost.set(name, 0); // a cycle (refused by validation) cannot recurse forever
          fragmentCost.set(name, fragment && isCompositeType(type) ? cost(type, fragment.selectionSet) : 0);
        }
        total += fragmentCost.get(name)!;
      }
    }
    return total;
  };
  const root = schema.getRootType(operation.operation);
  return root ? cost(root, operation.selectionSet) : 0;
}

/** The variables a document's cost can depend on: those given as `first` (in the operation or its fragments). */
function pageVariables(document: DocumentNode): string[] {
  const names = new Set<string>();
  visit(document, {
    Argument(node) {
      if (node.name.value === 'first' && node.value.kind === Kind.VARIABLE) names.add(node.value.name.value);
    },
  });
  return [...names];
}

/**
 * queryCost, remembered per operation and values of its page variables: Apollo keeps one parsed document per query
 * text, so a client sending the same query pays for the walk once per distinct page size, not once per request.
 */
const knownCosts = new WeakMap<OperationDefinitionNode, { variables: string[]; costs: Map<string, number> }>();
const MAX_COSTS_PER_OPERATION = 64;

function rememberedCost(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown> | null | undefined): number {
  let known = knownCosts.get(operation);
  if (!known) knownCosts.set(operation, (known = { variables: pageVariables(document), costs: new Map() }));
  const key = known.variables.length ? JSON.stringify(known.variables.map((name) => variables?.[name] ?? null)) : '';
  let cost = known.costs.get(key);
  if (cost === undefined) {
    cost = queryCost(schema, document, operation, variables);
    if (known.costs.size >= MAX_COSTS_PER_OPERATION) known.costs.clear();
    known.costs.set(key, cost);
  }
  return cost;
}

/** The cost refusal, or null when the operation is within the limit. */
export function checkCost(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown> | null | undefined, maxCost: number): GraphQLError | null {
  const found = rememberedCost(schema, document, operation, variables);
  if (found <= maxCost) return null;
  return new GraphQLError(
    `Query cost limit of ${maxCost} exceeded, found ${found}. A field costs 1 plus its selections times the items it returns: ` +
      `a connection's \`first\` (default ${DEFAULT_PAGE_SIZE}), ${LIST_ESTIMATE} for other lists. Ask for smaller pages or fewer nested lists.`,
    { extensions: { code: VALIDATION_FAILED, http: { status: 400 } } },
  );
}

/** Apollo: the cost check once the operation is known; the variables are the request's, before coercion. */
export function costLimitPlugin(maxCost: number): ApolloServerPlugin<any> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          const error = operation && checkCost(schema, document, operation, request.variables, maxCost);
          if (error) throw error;
        },
      };
    },
  };
}

/** Removes "Did you mean …?" from validation messages, as Apollo's hideSchemaDetailsFromClientErrors does. */
export const withoutSuggestions = (message: string) => message.replace(/ ?Did you mean(.+?)\?$/, '');

export interface WsGuardOptions {
  limits: QueryLimits;
  introspection: boolean;
  hideSuggestions: boolean;
}

/**
 * graphql-ws `onSubscribe`: parses with the token limit, validates with the standard rules plus ours (and without
 * introspection when it is off), checks the cost, and returns the errors or the arguments to execute.
 */
export function wsOperationGuard(schema: GraphQLSchema, options: WsGuardOptions) {
  const rules = [...specifiedRules, ...limitRules(options.limits), ...(options.introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  const withCode = (error: GraphQLError, code: string) => {
    const message = options.hideSuggestions ? withoutSuggestions(error.message) : error.message;
    return new GraphQLError(message, { nodes: error.nodes, source: error.source, positions: error.positions, extensions: { ...error.extensions, code } });
  };
  return (payload: SubscribePayload): ExecutionArgs | GraphQLError[] => {
    let document: DocumentNode;
    try {
      document = parse(payload.query, { maxTokens: options.limits.maxTokens });
    } catch (e) {
      if (e instanceof GraphQLError) return [withCode(e, 'GRAPHQL_PARSE_FAILED')];
      throw e;
    }
    const errors = validate(schema, document, rules);
    if (errors.length) return errors.map((e) => withCode(e, VALIDATION_FAILED));
    const operation = getOperationAST(document, payload.operationName);
    if (!operation) return [new GraphQLError('Unable to identify operation', { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })];
    const variables = payload.variables ?? undefined;
    const costError = checkCost(schema, document, operation, variables, options.limits.maxCost);
    if (costError) return [new GraphQLError(costError.message, { extensions: { code: VALIDATION_FAILED } })];
    return { schema, document, operationName: payload.operationName, variableValues: variables };
  };
}
