import type { webcrypto as nodeWebcrypto } from 'node:crypto';

type CryptoKeyLike = nodeWebcrypto.CryptoKey;

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

/** The certificate and key as one PEM file (what NOTIFICATION_CERT_FILE expects). */
export async function makeEncryptionCertificatePem(): Promise<string> {
  const { certificateBase64, privateKeyPem } = await makeEncryptionCertificate();
  return `-----BEGIN CERTIFICATE-----\n${certificateBase64.replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n${privateKeyPem}`;
}
