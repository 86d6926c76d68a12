/** The migrations, in order. Listed explicitly so they run the same from sources, from dist/ and under jest. */
import { Migration20261126000001_schemas } from './Migration20261126000001_schemas';

export const migrationsList = [{ name: 'Migration20261126000001_schemas', class: Migration20261126000001_schemas }];
