import {
  createDecipheriv,
  createHmac,
  privateDecrypt,
  constants,
  timingSafeEqual,
} from 'node:crypto';
import type { webcrypto as nodeWebcrypto } from 'node:crypto';

type CryptoKeyLike = nodeWebcrypto.CryptoKey;

/**
 * Decrypts a rich notification's encryptedContent using only node:crypto and the algorithm the
 * Graph docs describe: RSA-OAEP unwraps the key, HMAC-SHA256 over the data must match
 * dataSignature, AES-CBC with PKCS7 and IV = the key's first 16 bytes decrypts.
 * Deliberately independent of the simulator's code.
 */
export function decryptNotification(
  encrypted: { data: string; dataKey: string; dataSignature: string },
  privateKeyPem: string,
): unknown {
  const key = privateDecrypt(
    { key: privateKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING },
    Buffer.from(encrypted.dataKey, 'base64'),
  );
  const data = Buffer.from(encrypted.data, 'base64');
  const expected = createHmac('sha256', key).update(data).digest();
  const given = Buffer.from(encrypted.dataSignature, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new Error('dataSignature does not match');
  const decipher = createDecipheriv(`aes-${key.length * 8}-cbc`, key, key.subarray(0, 16));
  return JSON.parse(Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8'));
}

/** A self-signed RSA certificate for includeResourceData subscriptions, with its private key. */
export async function makeEncryptionCertificate(): Promise<{
  certificateBase64: string;
  privateKeyPem: string;
}> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  const { webcrypto: subtleCrypto } = await import('node:crypto');
  x509.cryptoProvider.set(subtleCrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  const keys = (await subtleCrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as {
    publicKey: CryptoKeyLike;
    privateKey: CryptoKeyLike;
  };
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '0a',
    name: 'CN=notifications',
    notBefore: new Date('2020-01-01'),
    notAfter: new Date('2040-01-01'),
    signingAlgorithm: alg,
    keys,
  });
  const pkcs8 = Buffer.from(await subtleCrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString(
    'base64',
  );
  return {
    certificateBase64: Buffer.from(cert.rawData).toString('base64'),
    privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`,
  };
}
