/** The migrations, in order. Listed explicitly so they run the same from sources, from dist/ and under jest. */
import { Migration20261126000001_schemas } from './Migration20261126000001_schemas';
import { Migration20261126000002_outbox } from './Migration20261126000002_outbox';
import { Migration20261127000003_api_keys } from './Migration20261127000003_api_keys';
import { Migration20261127000004_row_level_security } from './Migration20261127000004_row_level_security';
import { Migration20261127000005_admin_request_role } from './Migration20261127000005_admin_request_role';
import { Migration20261127000006_outbox_watermark } from './Migration20261127000006_outbox_watermark';

export const migrationsList = [
  { name: 'Migration20261126000001_schemas', class: Migration20261126000001_schemas },
  { name: 'Migration20261126000002_outbox', class: Migration20261126000002_outbox },
  { name: 'Migration20261127000003_api_keys', class: Migration20261127000003_api_keys },
  { name: 'Migration20261127000004_row_level_security', class: Migration20261127000004_row_level_security },
  { name: 'Migration20261127000005_admin_request_role', class: Migration20261127000005_admin_request_role },
  { name: 'Migration20261127000006_outbox_watermark', class: Migration20261127000006_outbox_watermark },
];
