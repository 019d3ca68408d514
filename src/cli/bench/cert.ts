// A self-signed certificate for the TLS rows, made at run time with node:crypto alone (the
// installed package has no dev dependencies): an EC P-256 key and an X.509 v3 certificate for
// localhost and 127.0.0.1, DER-encoded by hand below (only the few ASN.1 forms a certificate needs).
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'

/** One DER element: tag, definite length, then the concatenated body. */
function der(tag: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts)
  const n = body.length
  let head: number[]
  if (n < 0x80) head = [n]
  else {
    const bytes: number[] = []
    for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff)
    head = [0x80 | bytes.length, ...bytes]
  }
  return Buffer.concat([Buffer.from([tag, ...head]), body])
}

const seq = (...parts: Uint8Array[]) => der(0x30, ...parts)
const set = (...parts: Uint8Array[]) => der(0x31, ...parts)
const explicit = (n: number, inner: Uint8Array) => der(0xa0 | n, inner)

/** A non-negative INTEGER from big-endian bytes (a leading zero where the top bit is set). */
function integer(bytes: Uint8Array): Buffer {
  return der(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes)
}

/** An OBJECT IDENTIFIER from its dotted form. */
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number)
  const out = [40 * a! + b!]
  for (const arc of rest) {
    const base128 = [arc & 0x7f]
    for (let v = arc >> 7; v > 0; v >>= 7) base128.unshift(0x80 | (v & 0x7f))
    out.push(...base128)
  }
  return der(0x06, Buffer.from(out))
}

/** UTCTime, YYMMDDHHMMSSZ (valid up to 2049, which a one-day certificate made now is). */
function utcTime(date: Date): Buffer {
  const iso = date.toISOString()
  const text = iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z'
  return der(0x17, Buffer.from(text, 'ascii'))
}

const ECDSA_SHA256 = '1.2.840.10045.4.3.2'
const COMMON_NAME = '2.5.4.3'
const SUBJECT_ALT_NAME = '2.5.29.17'

/**
 * A fresh key and a self-signed certificate for `localhost` (DNS name) and `127.0.0.1` (IP
 * address), valid from an hour ago for one day, both PEM. A client trusts it with
 * `{ ca: cert, servername: 'localhost' }`. Synchronous; a few milliseconds.
 */
export function selfSignedCertificate(): { key: string; cert: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const serial = randomBytes(16)
  serial[0]! &= 0x7f
  const name = seq(set(seq(oid(COMMON_NAME), der(0x0c, Buffer.from('localhost')))))
  const now = Date.now()
  // SubjectAltName: [2] dNSName "localhost", [7] iPAddress 127.0.0.1 (implicit tags)
  const altNames = seq(der(0x82, Buffer.from('localhost')), der(0x87, Buffer.from([127, 0, 0, 1])))
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))), // version: v3
    integer(serial),
    seq(oid(ECDSA_SHA256)),
    name, // issuer
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 24 * 3600_000))),
    name, // subject
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(seq(oid(SUBJECT_ALT_NAME), der(0x04, altNames)))),
  )
  // ECDSA signatures come DER-encoded (dsaEncoding 'der', the default), as X.509 wants them
  const signature = sign('sha256', tbs, privateKey)
  const certificate = seq(tbs, seq(oid(ECDSA_SHA256)), der(0x03, Buffer.from([0]), signature))
  const lines = certificate.toString('base64').match(/.{1,64}/g)!.join('\n')
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`,
  }
}
