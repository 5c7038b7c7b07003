import {
  createDecipheriv,
  createHmac,
  privateDecrypt,
  constants,
  timingSafeEqual,
} from 'node:crypto';

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

export { makeEncryptionCertificate } from '../../dev/notification-cert.js';
