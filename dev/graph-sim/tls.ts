// @peculiar/x509 uses tsyringe, which needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type KeyPair = { publicKey: webcrypto.CryptoKey; privateKey: webcrypto.CryptoKey };

const ALG = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};

export interface TlsMaterial {
  /** PEM of the local CA that signed the server certificate: what clients must trust. */
  ca: string;
  cert: string;
  key: string;
  caPath: string;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

async function generate(): Promise<Omit<TlsMaterial, 'caPath'>> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 5 * 365 * 86_400_000);
  const caKeys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: webcrypto
      .getRandomValues(new Uint8Array(8))
      .reduce((s, b) => s + b.toString(16).padStart(2, '0'), '01'),
    name: 'CN=Classroom Recorder local CA (Graph simulator)',
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const leafKeys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: webcrypto
      .getRandomValues(new Uint8Array(8))
      .reduce((s, b) => s + b.toString(16).padStart(2, '0'), '02'),
    subject: 'CN=127.0.0.1',
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  return {
    ca: ca.toString('pem'),
    cert: leaf.toString('pem'),
    key: pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey)),
  };
}

/**
 * The simulator's TLS identity: a local CA and a server certificate for 127.0.0.1, made on
 * first start and kept in `dir` (git-ignored). Clients trust the CA; verification stays on.
 */
export async function loadOrCreateTls(dir: string): Promise<TlsMaterial> {
  const files = {
    ca: path.join(dir, 'ca.pem'),
    cert: path.join(dir, 'server.pem'),
    key: path.join(dir, 'server-key.pem'),
  };
  if (!Object.values(files).every((f) => fs.existsSync(f))) {
    fs.mkdirSync(dir, { recursive: true });
    const made = await generate();
    // Write to temporary names first so a crash never leaves a half-written set.
    for (const [name, file] of Object.entries(files)) {
      fs.writeFileSync(`${file}.tmp`, made[name as keyof typeof made], { mode: 0o600 });
    }
    for (const file of Object.values(files)) fs.renameSync(`${file}.tmp`, file);
  }
  return {
    ca: fs.readFileSync(files.ca, 'utf8'),
    cert: fs.readFileSync(files.cert, 'utf8'),
    key: fs.readFileSync(files.key, 'utf8'),
    caPath: files.ca,
  };
}
