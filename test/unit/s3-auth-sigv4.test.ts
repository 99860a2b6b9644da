/**
 * SigV4 header and presigned auth: AWS's published S3 examples reproduced exactly, then the
 * refusals S3 gives, each with its S3 error code.
 * Examples: docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html and
 * sigv4-query-string-auth.html (credentials AKIAIOSFODNN7EXAMPLE, 2013-05-24T00:00:00Z).
 */
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { S3AuthError, s3AuthErrors } from '../../bridge/s3/auth/errors.ts';
import {
  awsUriEncode,
  canonicalPath,
  canonicalQuery,
  deriveSigningKey,
  formatAmzDate,
  type ParsedSignature,
  parseSignedRequest,
  type RequestHeaders,
  type SignedRequestInput,
  type SigningContext,
  signingKeyCacheSize,
  verifySignature,
} from '../../bridge/s3/auth/sigv4.ts';

const AKID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const DOC_TIME = new Date('2013-05-24T00:00:00Z');
const DOC_HOST = 'examplebucket.s3.amazonaws.com';

function input(partial: Partial<SignedRequestInput> & { headers: RequestHeaders }): SignedRequestInput {
  return { method: 'GET', rawPath: '/', rawQuery: '', now: DOC_TIME, ...partial };
}

function authenticate(
  request: SignedRequestInput,
  secret = SECRET,
): SigningContext & { parsed: ParsedSignature } {
  const parsed = parseSignedRequest(request);
  return { ...verifySignature(parsed, secret, request), parsed };
}

/** The S3AuthError `fn` throws (fails the test if it throws anything else or nothing). */
function refusal(fn: () => unknown): S3AuthError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(S3AuthError);
    return error as S3AuthError;
  }
  throw new Error('expected an S3AuthError');
}

const authorization = (
  signedHeaders: string,
  signature: string,
  scope = `${AKID}/20130524/us-east-1/s3/aws4_request`,
) => `AWS4-HMAC-SHA256 Credential=${scope},SignedHeaders=${signedHeaders},Signature=${signature}`;

/** An independent, minimal signer (not the module's code) to build valid requests at any time. */
function sign(
  request: SignedRequestInput,
  signedHeaders: string[],
  payloadHash: string,
  secret = SECRET,
  region = 'us-east-1',
): SignedRequestInput {
  const amzDate = request.headers['x-amz-date'] as string;
  const scope = `${amzDate.slice(0, 8)}/${region}/s3/aws4_request`;
  const canonical = [
    request.method,
    request.rawPath,
    canonicalQuery(request.rawQuery),
    signedHeaders.map((name) => `${name}:${String(request.headers[name]).trim()}\n`).join(''),
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  const h = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  const key = h(h(h(h(`AWS4${secret}`, amzDate.slice(0, 8)), region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  return {
    ...request,
    headers: {
      ...request.headers,
      authorization: `AWS4-HMAC-SHA256 Credential=${AKID}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`,
    },
  };
}

function signedGet(now: Date, overrides: Partial<SignedRequestInput> = {}) {
  return sign(
    input({
      rawPath: '/bucket/photos/a%20b.jpg',
      rawQuery: 'versionId=3&response-content-type=text%2Fplain',
      headers: { host: 'localhost:9000', 'x-amz-date': formatAmzDate(now), 'x-amz-content-sha256': EMPTY },
      now,
      ...overrides,
    }),
    ['host', 'x-amz-content-sha256', 'x-amz-date'],
    EMPTY,
  );
}

describe('AWS published S3 SigV4 examples', () => {
  it('GET Object with a Range (virtual-hosted: the bucket is in Host)', () => {
    const request = input({
      rawPath: '/test.txt',
      headers: {
        host: DOC_HOST,
        range: 'bytes=0-9',
        'x-amz-content-sha256': EMPTY,
        'x-amz-date': '20130524T000000Z',
        authorization: authorization(
          'host;range;x-amz-content-sha256;x-amz-date',
          'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
        ),
      },
    });
    const result = authenticate(request);
    expect(result.parsed).toMatchObject({
      kind: 'header',
      accessKeyId: AKID,
      date: '20130524',
      region: 'us-east-1',
      service: 's3',
      signedHeaders: ['host', 'range', 'x-amz-content-sha256', 'x-amz-date'],
      payloadHash: EMPTY,
    });
    expect(result.scope).toBe('20130524/us-east-1/s3/aws4_request');
    expect(result.seedSignature).toBe('f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  });

  it('PUT Object with a Date header, a storage class and "$" in the key', () => {
    const body = 'Welcome to Amazon S3.';
    const hash = createHash('sha256').update(body).digest('hex');
    expect(hash).toBe('44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072');
    const request = input({
      method: 'PUT',
      rawPath: '/test$file.text',
      headers: {
        host: DOC_HOST,
        date: 'Fri, 24 May 2013 00:00:00 GMT',
        'x-amz-date': '20130524T000000Z',
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        'x-amz-content-sha256': hash,
        authorization: authorization(
          'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
          '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
        ),
      },
    });
    expect(() => authenticate(request)).not.toThrow();
    // The same request with "$" already encoded on the wire.
    expect(() => authenticate({ ...request, rawPath: '/test%24file.text' })).not.toThrow();
  });

  it('GET Bucket lifecycle: a parameter without a value', () => {
    const request = input({
      rawQuery: 'lifecycle',
      headers: {
        host: DOC_HOST,
        'x-amz-date': '20130524T000000Z',
        'x-amz-content-sha256': EMPTY,
        authorization: authorization(
          'host;x-amz-content-sha256;x-amz-date',
          'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
        ),
      },
    });
    expect(() => authenticate(request)).not.toThrow();
  });

  it('GET Bucket (list objects): parameters sorted whatever their order on the wire', () => {
    const headers = {
      host: DOC_HOST,
      'x-amz-date': '20130524T000000Z',
      'x-amz-content-sha256': EMPTY,
      authorization: authorization(
        'host;x-amz-content-sha256;x-amz-date',
        '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
      ),
    };
    expect(() => authenticate(input({ rawQuery: 'max-keys=2&prefix=J', headers }))).not.toThrow();
    expect(() => authenticate(input({ rawQuery: 'prefix=J&max-keys=2', headers }))).not.toThrow();
    expect(() => authenticate(input({ rawQuery: 'prefix=%4A&max-keys=2', headers }))).not.toThrow();
    expect(refusal(() => authenticate(input({ rawQuery: 'prefix=K&max-keys=2', headers }))).code).toBe(
      'SignatureDoesNotMatch',
    );
  });

  it('presigned GET Object, valid for 86400 seconds', () => {
    const rawQuery =
      'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
      '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
      '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
    const request = input({ rawPath: '/test.txt', rawQuery, headers: { host: DOC_HOST } });
    const result = authenticate({ ...request, now: new Date('2013-05-24T23:59:59Z') });
    expect(result.parsed).toMatchObject({
      kind: 'presigned',
      payloadHash: 'UNSIGNED-PAYLOAD',
      signedHeaders: ['host'],
    });
    expect(result.parsed.expiresAt?.toISOString()).toBe('2013-05-25T00:00:00.000Z');
    const expired = refusal(() => authenticate({ ...request, now: new Date('2013-05-25T00:00:01Z') }));
    expect(expired).toMatchObject({ code: 'AccessDenied', message: 'Request has expired', httpStatus: 403 });
    // Tampering with the expiry breaks the signature.
    const longer = rawQuery.replace('X-Amz-Expires=86400', 'X-Amz-Expires=86401');
    expect(refusal(() => authenticate({ ...request, rawQuery: longer })).code).toBe('SignatureDoesNotMatch');
  });
});

describe('canonical forms', () => {
  it('encodes the AWS way: only A-Za-z0-9-._~ are left as they are', () => {
    expect(awsUriEncode("a b+c~d*e!f'g(h)i/j%k")).toBe('a%20b%2Bc~d%2Ae%21f%27g%28h%29i%2Fj%25k');
    expect(awsUriEncode('日本')).toBe('%E6%97%A5%E6%9C%AC');
  });

  it('does not encode the path twice, keeps slashes and %2F', () => {
    expect(canonicalPath('/bucket/a%20b/c%2Fd')).toBe('/bucket/a%20b/c%2Fd');
    expect(canonicalPath('/bucket/%7Ex%7e')).toBe('/bucket/~x~');
    expect(canonicalPath('/bucket/a+b')).toBe('/bucket/a%2Bb');
    expect(canonicalPath('')).toBe('/');
    expect(canonicalPath('/bucket/bad%zz')).toBe('/bucket/bad%zz');
  });

  it('sorts the query by name then value and gives bare names an empty value', () => {
    expect(canonicalQuery('uploads&prefix=a/b&list-type=2&a=2&a=1')).toBe(
      'a=1&a=2&list-type=2&prefix=a%2Fb&uploads=',
    );
    expect(canonicalQuery('X-Amz-Signature=x&b=1', 'X-Amz-Signature')).toBe('b=1');
  });
});

describe('header auth refusals', () => {
  const now = new Date('2026-03-01T12:00:00Z');

  it('accepts a valid request, with any region in the scope', () => {
    expect(() => authenticate(signedGet(now))).not.toThrow();
    const auto = sign(
      input({ headers: { host: 'h', 'x-amz-date': formatAmzDate(now), 'x-amz-content-sha256': EMPTY }, now }),
      ['host', 'x-amz-content-sha256', 'x-amz-date'],
      EMPTY,
      SECRET,
      'auto',
    );
    expect(authenticate(auto).parsed.region).toBe('auto');
  });

  it('wrong secret → SignatureDoesNotMatch (403) with the string to sign for diagnosis', () => {
    const error = refusal(() => authenticate(signedGet(now), 'not-the-secret'));
    expect(error).toMatchObject({ code: 'SignatureDoesNotMatch', httpStatus: 403 });
    expect(error.details.StringToSign).toContain(
      'AWS4-HMAC-SHA256\n20260301T120000Z\n20260301/us-east-1/s3/aws4_request\n',
    );
    expect(error.details.CanonicalRequest).toContain('GET\n/bucket/photos/a%20b.jpg\n');
    expect(error.details.CanonicalRequest).not.toContain(SECRET);
  });

  it('tampered path, query, header value or method → SignatureDoesNotMatch', () => {
    const good = signedGet(now);
    const tampered: SignedRequestInput[] = [
      { ...good, rawPath: '/bucket/photos/a%20c.jpg' },
      { ...good, rawPath: '/other/photos/a%20b.jpg' },
      { ...good, rawQuery: 'versionId=4&response-content-type=text%2Fplain' },
      { ...good, rawQuery: 'versionId=3' },
      { ...good, headers: { ...good.headers, host: 'evil:9000' } },
      { ...good, method: 'DELETE' },
    ];
    for (const request of tampered)
      expect(refusal(() => authenticate(request)).code).toBe('SignatureDoesNotMatch');
  });

  it('a header dropped from SignedHeaders: unsigned x-amz-* → AccessDenied (HeadersNotSigned), others → mismatch', () => {
    const good = signedGet(now);
    const auth = good.headers.authorization as string;
    const noDate = { ...good, headers: { ...good.headers, authorization: auth.replace(';x-amz-date', '') } };
    expect(refusal(() => authenticate(noDate))).toMatchObject({
      code: 'AccessDenied',
      details: { HeadersNotSigned: 'x-amz-date' },
    });
    const noHost = { ...good, headers: { ...good.headers, authorization: auth.replace('host;', '') } };
    expect(refusal(() => authenticate(noHost)).details.HeadersNotSigned).toBe('host');
    const extraRange = {
      ...good,
      headers: { ...good.headers, range: 'bytes=0-1', authorization: auth.replace('host;', 'host;range;') },
    };
    expect(refusal(() => authenticate(extraRange)).code).toBe('SignatureDoesNotMatch');
    const unsignedMeta = { ...good, headers: { ...good.headers, 'x-amz-meta-owner': 'eve' } };
    expect(refusal(() => authenticate(unsignedMeta)).details.HeadersNotSigned).toBe('x-amz-meta-owner');
  });

  it('16 minutes of clock skew → RequestTimeTooSkewed (403); 14 minutes is accepted', () => {
    const request = signedGet(now);
    const late = refusal(() => authenticate({ ...request, now: new Date(now.getTime() + 16 * 60_000) }));
    expect(late).toMatchObject({ code: 'RequestTimeTooSkewed', httpStatus: 403 });
    expect(late.details.MaxAllowedSkewMilliseconds).toBe('900000');
    const early = refusal(() => authenticate({ ...request, now: new Date(now.getTime() - 16 * 60_000) }));
    expect(early.code).toBe('RequestTimeTooSkewed');
    expect(() => authenticate({ ...request, now: new Date(now.getTime() + 14 * 60_000) })).not.toThrow();
  });

  it('no credentials at all → AccessDenied', () => {
    const error = refusal(() => parseSignedRequest(input({ headers: { host: 'h' } })));
    expect(error).toMatchObject({ code: 'AccessDenied', httpStatus: 403 });
  });

  it('malformed Authorization → AuthorizationHeaderMalformed (400)', () => {
    const base = { host: 'h', 'x-amz-date': '20130524T000000Z', 'x-amz-content-sha256': EMPTY };
    const sig = 'a'.repeat(64);
    const cases = [
      `AWS4-HMAC-SHA256 Credential=${AKID}/20130524/us-east-1/s3/aws4_request, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=${AKID}/20130524/us-east-1, SignedHeaders=host, Signature=${sig}`,
      authorization(
        'host;x-amz-content-sha256;x-amz-date',
        sig,
        `${AKID}/20130524/us-east-1/ec2/aws4_request`,
      ),
      authorization(
        'host;x-amz-content-sha256;x-amz-date',
        sig,
        `${AKID}/20130524/us-east-1/s3/aws5_request`,
      ),
      authorization(
        'host;x-amz-content-sha256;x-amz-date',
        sig,
        `${AKID}/20130523/us-east-1/s3/aws4_request`,
      ),
      `AWS4-ECDSA-P256-SHA256 Credential=${AKID}/20130524/s3/aws4_request, SignedHeaders=host, Signature=${sig}`,
    ];
    for (const value of cases) {
      const error = refusal(() => parseSignedRequest(input({ headers: { ...base, authorization: value } })));
      expect(error).toMatchObject({ code: 'AuthorizationHeaderMalformed', httpStatus: 400 });
    }
  });

  it('Signature Version 2 → InvalidRequest; header and query auth together → InvalidArgument', () => {
    const v2 = refusal(() =>
      parseSignedRequest(input({ headers: { host: 'h', authorization: 'AWS AKID:c2lnbmF0dXJl' } })),
    );
    expect(v2).toMatchObject({ code: 'InvalidRequest', httpStatus: 400 });
    const v2query = refusal(() =>
      parseSignedRequest(
        input({ rawQuery: 'AWSAccessKeyId=AKID&Expires=1&Signature=x', headers: { host: 'h' } }),
      ),
    );
    expect(v2query.code).toBe('InvalidRequest');
    const both = refusal(() =>
      parseSignedRequest(
        input({
          rawQuery: 'X-Amz-Algorithm=AWS4-HMAC-SHA256',
          headers: { host: 'h', authorization: authorization('host', 'a'.repeat(64)) },
        }),
      ),
    );
    expect(both).toMatchObject({ code: 'InvalidArgument', httpStatus: 400 });
  });

  it('x-amz-content-sha256 missing → InvalidRequest; not a hash nor a known value → InvalidArgument', () => {
    const good = signedGet(now);
    const { 'x-amz-content-sha256': _omitted, ...without } = good.headers;
    expect(refusal(() => parseSignedRequest({ ...good, headers: without }))).toMatchObject({
      code: 'InvalidRequest',
      message: 'Missing required header for this request: x-amz-content-sha256',
    });
    const bogus = {
      ...good,
      headers: { ...good.headers, 'x-amz-content-sha256': 'tjnVEQ5UTP/DL91eAGOmew==' },
    };
    expect(refusal(() => parseSignedRequest(bogus))).toMatchObject({
      code: 'InvalidArgument',
      details: { ArgumentName: 'x-amz-content-sha256' },
    });
  });

  it('a Date header instead of x-amz-date: signed as its YYYYMMDDTHHMMSSZ form, and must be signed', () => {
    const headers = { host: 'h', date: 'Sun, 01 Mar 2026 12:00:00 GMT', 'x-amz-date': '20260301T120000Z' };
    const withDate = sign(
      input({ headers: { ...headers, 'x-amz-content-sha256': EMPTY }, now }),
      ['date', 'host', 'x-amz-content-sha256'],
      EMPTY,
    );
    const { 'x-amz-date': _dropped, ...dateOnly } = withDate.headers;
    expect(authenticate({ ...withDate, headers: dateOnly }).timestamp).toBe('20260301T120000Z');
    const dateUnsigned = sign(
      input({ headers: { ...headers, 'x-amz-content-sha256': EMPTY }, now }),
      ['host', 'x-amz-content-sha256'],
      EMPTY,
    );
    const { 'x-amz-date': _alsoDropped, ...unsignedDateOnly } = dateUnsigned.headers;
    expect(
      refusal(() => authenticate({ ...dateUnsigned, headers: unsignedDateOnly })).details.HeadersNotSigned,
    ).toBe('date');
  });

  it('no valid date → AccessDenied', () => {
    const good = signedGet(now);
    const bad = { ...good, headers: { ...good.headers, 'x-amz-date': '2026-03-01T12:00:00Z' } };
    expect(refusal(() => parseSignedRequest(bad))).toMatchObject({
      code: 'AccessDenied',
      message: 'AWS authentication requires a valid Date or x-amz-date header',
    });
  });

  it('InvalidAccessKeyId is the caller’s to raise, with S3’s status', () => {
    const error = new S3AuthError('InvalidAccessKeyId');
    expect(error).toMatchObject({ httpStatus: 403, message: s3AuthErrors.InvalidAccessKeyId.message });
  });
});

describe('presigned refusals', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  const presignedQuery = (params: Record<string, string>) =>
    Object.entries(params)
      .map(([name, value]) => `${awsUriEncode(name)}=${awsUriEncode(value)}`)
      .join('&');

  /** Build a presigned URL query with the independent signer's math. */
  function presign(expires: number, at = now, extra: Record<string, string> = {}) {
    const amzDate = formatAmzDate(at);
    const scope = `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`;
    const params: Record<string, string> = {
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': `${AKID}/${scope}`,
      'X-Amz-Date': amzDate,
      'X-Amz-Expires': String(expires),
      'X-Amz-SignedHeaders': 'host',
      ...extra,
    };
    const canonical = [
      'GET',
      '/bucket/k',
      canonicalQuery(presignedQuery(params)),
      'host:h\n',
      'host',
      'UNSIGNED-PAYLOAD',
    ].join('\n');
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
    const key = deriveSigningKey(SECRET, AKID, amzDate.slice(0, 8), 'us-east-1');
    params['X-Amz-Signature'] = createHmac('sha256', key).update(stringToSign).digest('hex');
    return input({ rawPath: '/bucket/k', rawQuery: presignedQuery(params), headers: { host: 'h' }, now: at });
  }

  it('accepts until X-Amz-Expires, then AccessDenied "Request has expired"', () => {
    const request = presign(60);
    expect(() => authenticate({ ...request, now: new Date(now.getTime() + 60_000) })).not.toThrow();
    expect(refusal(() => authenticate({ ...request, now: new Date(now.getTime() + 61_000) }))).toMatchObject({
      code: 'AccessDenied',
      message: 'Request has expired',
      details: { 'X-Amz-Expires': '60' },
    });
  });

  it('X-Amz-Expires over a week, negative or not a number → AuthorizationQueryParametersError (400)', () => {
    expect(() => authenticate(presign(604_800))).not.toThrow();
    for (const expires of ['604801', '-1', 'soon']) {
      const request = presign(60);
      const rawQuery = request.rawQuery.replace('X-Amz-Expires=60', `X-Amz-Expires=${expires}`);
      expect(refusal(() => parseSignedRequest({ ...request, rawQuery }))).toMatchObject({
        code: 'AuthorizationQueryParametersError',
        httpStatus: 400,
      });
    }
  });

  it('a missing parameter or another algorithm → AuthorizationQueryParametersError', () => {
    const request = presign(60);
    const noDate = request.rawQuery.replace(/&X-Amz-Date=[^&]*/, '');
    expect(refusal(() => parseSignedRequest({ ...request, rawQuery: noDate })).code).toBe(
      'AuthorizationQueryParametersError',
    );
    const otherAlgorithm = request.rawQuery.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512');
    expect(refusal(() => parseSignedRequest({ ...request, rawQuery: otherAlgorithm })).code).toBe(
      'AuthorizationQueryParametersError',
    );
  });

  it('an added query parameter, or an unsigned x-amz-* header, is refused', () => {
    const request = presign(60);
    expect(refusal(() => authenticate({ ...request, rawQuery: `${request.rawQuery}&acl` })).code).toBe(
      'SignatureDoesNotMatch',
    );
    const withAcl = { ...request, headers: { ...request.headers, 'x-amz-acl': 'public-read' } };
    expect(refusal(() => authenticate(withAcl)).details.HeadersNotSigned).toBe('x-amz-acl');
    // An unsigned x-amz-content-sha256 is tolerated on presigned requests, as S3 does.
    expect(() =>
      authenticate({ ...request, headers: { host: 'h', 'x-amz-content-sha256': EMPTY } }),
    ).not.toThrow();
  });
});

describe('signing key cache', () => {
  it('stays bounded and never serves a key derived from an old secret', () => {
    for (let i = 0; i < 300; i++) deriveSigningKey(SECRET, `KEY${i}`, '20260301', 'us-east-1');
    expect(signingKeyCacheSize()).toBeLessThanOrEqual(256);
    const first = deriveSigningKey('secret-one', 'ROTATED', '20260301', 'us-east-1');
    const second = deriveSigningKey('secret-two', 'ROTATED', '20260301', 'us-east-1');
    expect(second.equals(first)).toBe(false);
    expect(deriveSigningKey('secret-two', 'ROTATED', '20260301', 'us-east-1')).toBe(second);
  });
});
