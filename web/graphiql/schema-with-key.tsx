/**
 * Every request needs an API key, and GraphiQL asks for the schema as it opens. Without a key in the header editor the
 * fetcher answers that question itself (see fetcher.ts); this component asks again as soon as a key is typed or pasted
 * there, so the schema (docs, completion, validation) follows the key without a manual re-fetch.
 */
import { useEffect } from 'react';
import { useGraphiQL, useGraphiQLActions } from '@graphiql/react';
import { hasKey } from './fetcher';

export function SchemaWithKey(): null {
  const headerEditor = useGraphiQL((state) => state.headerEditor);
  const schema = useGraphiQL((state) => state.schema);
  const { introspect } = useGraphiQLActions();

  useEffect(() => {
    if (!headerEditor || schema) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (hasKey(headerEditor.getValue())) void introspect();
      }, 500);
    };
    check();
    const subscription = headerEditor.onDidChangeModelContent(check);
    return () => {
      clearTimeout(timer);
      subscription.dispose();
    };
  }, [headerEditor, schema, introspect]);

  return null;
}
