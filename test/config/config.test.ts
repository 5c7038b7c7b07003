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
      mongodbUri: undefined,
    });
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
