/**
 * A text[] literal for one bound parameter (knex would expand a JS array into several). Each element is quoted, with
 * '"' and '\' escaped. Runs for every batched read (the 100 ids of a page's trades): values needing no escape, the
 * usual case, are joined in one go.
 */
export function toPgArray(values: readonly string[]): string {
  if (values.length === 0) return '{}';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'string' || v.indexOf('"') !== -1 || v.indexOf('\\') !== -1) return escaped(values);
  }
  return `{"${values.join('","')}"}`;
}

function escaped(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}
