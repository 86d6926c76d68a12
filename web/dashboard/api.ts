/** Queries over HTTP POST /graphql, typed by the generated documents, with the user's API key. */
import { print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

export class RequestError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

const printed = new WeakMap<object, string>();

/** The query text of a generated document (printed once). */
export function queryOf(document: TypedDocumentNode<any, any>): string {
  let text = printed.get(document);
  if (!text) {
    text = print(document);
    printed.set(document, text);
  }
  return text;
}

/** `Bearer <key>` for a key as the user typed it (with or without the word Bearer); undefined for none. */
export function authorization(apiKey: string): string | undefined {
  const key = apiKey.trim();
  if (!key) return undefined;
  return /^bearer\s/i.test(key) ? key : `Bearer ${key}`;
}

export async function request<TData, TVariables>(
  document: TypedDocumentNode<TData, TVariables>,
  variables: TVariables,
  apiKey: string,
): Promise<TData> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  const auth = authorization(apiKey);
  if (auth) headers.authorization = auth;
  let response: Response;
  try {
    response = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query: queryOf(document), variables }) });
  } catch (error) {
    throw new RequestError(`the gateway did not answer (${(error as Error).message})`, 'NETWORK');
  }
  let body: { data?: TData; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = await response.json();
  } catch {
    throw new RequestError(`HTTP ${response.status} without a GraphQL answer`, 'HTTP');
  }
  if (body.errors?.length) {
    const [first] = body.errors;
    const code = first.extensions?.code;
    const hint = code === 'UNAUTHENTICATED' ? (apiKey.trim() ? ' (check the API key above)' : ' (enter an API key above)') : '';
    throw new RequestError(body.errors.map((e) => e.message).join('; ') + hint, code);
  }
  if (!body.data) throw new RequestError(`HTTP ${response.status} without data`, 'HTTP');
  return body.data;
}
