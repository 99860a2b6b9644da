/**
 * `npm run temporal:setup`: registers Skybridge's custom search attributes on
 * TEMPORAL_NAMESPACE of a self-hosted cluster (the dev server started by
 * `npm start` gets them at start; on Temporal Cloud use the Cloud UI or tcld).
 */
import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import proto from '@temporalio/proto';
import { loadConfig } from '../core/config.ts';
import { temporalConnectionSettings } from '../core/temporal-connection.ts';
import { searchAttributes } from '../workflows/definitions.ts';

const settings = temporalConnectionSettings(loadConfig(['temporal']));
const connection = await Connection.connect({
  address: settings.address,
  tls: settings.tls,
  apiKey: settings.apiKey,
  metadata: settings.metadata,
});
try {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({
    namespace: settings.namespace,
  });
  const missing = Object.values(searchAttributes).filter((key) => !(key.name in (customAttributes ?? {})));
  if (missing.length > 0) {
    const { IndexedValueType } = proto.temporal.api.enums.v1;
    const indexedType = (key: (typeof missing)[number]) =>
      key.type === SearchAttributeType.KEYWORD_LIST
        ? IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST
        : IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
    await connection.operatorService.addSearchAttributes({
      namespace: settings.namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, indexedType(key)])),
    });
  }
  console.log(
    missing.length > 0
      ? `registered ${missing.map((key) => key.name).join(', ')} on namespace ${settings.namespace}`
      : `namespace ${settings.namespace} already has Skybridge's search attributes`,
  );
} finally {
  await connection.close();
}
