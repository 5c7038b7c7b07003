import assert from 'node:assert/strict';
import { loadConfig, loadLauncherConfig, redactUri } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';

const base = { MONGODB_URI: 'mongodb://127.0.0.1:27017/x' };

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

describe('config', () => {
  it('applies documented defaults', () => {
    const c = loadConfig(base);
    assert.equal(c.port, 3978);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.mongodbDb, 'classroom_recorder');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.maxBodyBytes, 1024 * 1024);
  });

  it('reads every variable', () => {
    const c = loadConfig({
      ...base,
      PORT: '8080',
      HOST: '127.0.0.1',
      MONGODB_DB: 'school',
      MONGODB_SERVER_SELECTION_TIMEOUT_MS: '1500',
      MONGODB_HEARTBEAT_MS: '750',
      LOG_LEVEL: 'debug',
      MAX_BODY_BYTES: '2048',
      SHUTDOWN_TIMEOUT_MS: '0',
    });
    assert.deepEqual(
      [
        c.port,
        c.host,
        c.mongodbDb,
        c.mongodbServerSelectionTimeoutMs,
        c.mongodbHeartbeatMs,
        c.logLevel,
        c.maxBodyBytes,
        c.shutdownTimeoutMs,
      ],
      [8080, '127.0.0.1', 'school', 1500, 750, 'debug', 2048, 0],
    );
  });

  it('treats an empty value as unset', () => {
    assert.equal(loadConfig({ ...base, PORT: '' }).port, 3978);
  });

  it('names MONGODB_URI when it is missing', () => {
    const err = configError(() => loadConfig({}));
    assert.equal(err.variable, 'MONGODB_URI');
    assert.match(err.message, /^MONGODB_URI is not set\. Set MONGODB_URI to/);
  });

  it('rejects a malformed MONGODB_URI without echoing it', () => {
    const err = configError(() => loadConfig({ MONGODB_URI: 'nonsense-with-secret-s3cr3t' }));
    assert.equal(err.variable, 'MONGODB_URI');
    assert.match(err.message, /not a valid MongoDB connection string/);
    assert.doesNotMatch(err.message, /s3cr3t/);
    assert.doesNotMatch(err.message, /\n/);
  });

  const bad: [string, string, RegExp][] = [
    ['PORT', 'eighty', /PORT must be a whole number\. Set PORT/],
    ['PORT', '70000', /PORT must be between 0 and 65535/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL is not a log level\. Use one of/],
    ['MONGODB_DB', 'my.db', /MONGODB_DB is not a valid database name/],
    ['MAX_BODY_BYTES', '10', /MAX_BODY_BYTES must be between 1024/],
    ['MONGODB_HEARTBEAT_MS', '100', /MONGODB_HEARTBEAT_MS must be between 500/],
  ];
  for (const [variable, value, message] of bad) {
    it(`rejects ${variable}=${value} with a message naming it`, () => {
      const err = configError(() => loadConfig({ ...base, [variable]: value }));
      assert.equal(err.variable, variable);
      assert.match(err.message, message);
    });
  }

  it('validates launcher settings', () => {
    assert.deepEqual(loadLauncherConfig({}), {
      envName: 'local',
      localMongoPort: 27117,
      localDataDir: '.data',
      graphSimPort: 8443,
      localTimeScale: 120,
      playground: true,
      playgroundPort: 56150,
      mongodbUri: undefined,
    });
    assert.equal(loadLauncherConfig({ PLAYGROUND: 'off' }).playground, false);
    assert.equal(
      configError(() => loadLauncherConfig({ PLAYGROUND: 'maybe' })).variable,
      'PLAYGROUND',
    );
    assert.equal(
      configError(() => loadLauncherConfig({ LOCAL_MONGO_PORT: '-1' })).variable,
      'LOCAL_MONGO_PORT',
    );
    assert.equal(
      configError(() => loadLauncherConfig({ MONGODB_URI: 'nonsense' })).variable,
      'MONGODB_URI',
    );
    assert.equal(
      configError(() => loadLauncherConfig({ ENV_NAME: '../etc' })).variable,
      'ENV_NAME',
    );
  });

  it('redacts credentials in connection strings', () => {
    assert.equal(
      redactUri('mongodb://user:pa55@db.example:27017/x'),
      'mongodb://***@db.example:27017/x',
    );
    assert.equal(
      redactUri('mongodb+srv://u:p@cluster0.example/x'),
      'mongodb+srv://***@cluster0.example/x',
    );
    assert.equal(redactUri('mongodb://127.0.0.1:27017'), 'mongodb://127.0.0.1:27017');
  });
});

describe('config: Microsoft Graph', () => {
  const identity = {
    AAD_APP_TENANT_ID: 'a1d286db-6149-4b3d-95ad-23c9e1bf6853',
    AAD_APP_CLIENT_ID: '6f0b3b8e-6a47-4f7b-9a61-3c2a9f0b1d10',
    SECRET_AAD_APP_CLIENT_SECRET: 's3cr3t-value',
  };

  it('is off when no Entra app is configured', () => {
    assert.equal(loadConfig(base).graph, undefined);
  });

  it('reads the Entra app, with the real cloud as default hosts', () => {
    const g = loadConfig({ ...base, ...identity }).graph!;
    assert.equal(g.tenantId, identity.AAD_APP_TENANT_ID);
    assert.equal(g.authorityHost, 'https://login.microsoftonline.com');
    assert.equal(g.baseUrl, 'https://graph.microsoft.com');
    assert.equal(g.caFile, undefined);
  });

  it('names the missing member of the set, never the secret', () => {
    const err = configError(() =>
      loadConfig({
        ...base,
        AAD_APP_TENANT_ID: identity.AAD_APP_TENANT_ID,
        SECRET_AAD_APP_CLIENT_SECRET: 'topsecret',
      }),
    );
    assert.equal(err.variable, 'AAD_APP_CLIENT_ID');
    assert.match(
      err.message,
      /^AAD_APP_CLIENT_ID is not set, but AAD_APP_TENANT_ID and a credential are/,
    );
    assert.doesNotMatch(err.message, /topsecret/);
  });

  it('asks for a credential when only the ids are set, and refuses two credentials', () => {
    const { SECRET_AAD_APP_CLIENT_SECRET: _secret, ...ids } = identity;
    assert.equal(
      configError(() => loadConfig({ ...base, ...ids })).variable,
      'SECRET_AAD_APP_CLIENT_SECRET',
    );
    const both = configError(() =>
      loadConfig({ ...base, ...identity, AAD_APP_CLIENT_CERTIFICATE_FILE: 'package.json' }),
    );
    assert.equal(both.variable, 'AAD_APP_CLIENT_CERTIFICATE_FILE');
    const cert = loadConfig({
      ...base,
      ...ids,
      AAD_APP_CLIENT_CERTIFICATE_FILE: 'package.json',
    }).graph!;
    assert.equal(cert.clientSecret, undefined);
    assert.equal(cert.clientCertificateFile, 'package.json');
    void _secret;
  });

  it('requires GUIDs, https hosts and an existing CA file', () => {
    assert.equal(
      configError(() => loadConfig({ ...base, ...identity, AAD_APP_CLIENT_ID: 'my-app' })).variable,
      'AAD_APP_CLIENT_ID',
    );
    assert.equal(
      configError(() =>
        loadConfig({ ...base, ...identity, GRAPH_BASE_URL: 'http://graph.example' }),
      ).variable,
      'GRAPH_BASE_URL',
    );
    assert.equal(
      configError(() => loadConfig({ ...base, ...identity, GRAPH_CA_FILE: '/nope/ca.pem' }))
        .variable,
      'GRAPH_CA_FILE',
    );
  });
});
