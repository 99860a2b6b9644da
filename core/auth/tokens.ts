/** Management-API session tokens (FB_JWT): HS256 JWTs with an expiry. */
import { jwtVerify, SignJWT } from 'jose';
import { unauthenticated } from '../errors.ts';

const ISSUER = 'skybridge';
const AUDIENCE = 'skybridge-api';

export interface SessionClaims {
  userId: string;
}

export interface TokenSigner {
  issue(claims: SessionClaims): Promise<{ token: string; expiresAt: Date }>;
  verify(token: string): Promise<SessionClaims>;
}

export function createTokenSigner(secret: string, ttlSeconds: number): TokenSigner {
  const key = new TextEncoder().encode(secret);
  return {
    async issue({ userId }) {
      const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(userId)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(expiresAt)
        .sign(key);
      return { token, expiresAt };
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, key, {
          issuer: ISSUER,
          audience: AUDIENCE,
          algorithms: ['HS256'],
        });
        if (!payload.sub) throw new Error('token has no subject');
        return { userId: payload.sub };
      } catch {
        throw unauthenticated('Invalid or expired token');
      }
    },
  };
}
