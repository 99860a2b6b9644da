import { Router } from 'express';
import { z } from 'zod';
import { verifyPassword } from '../../core/auth/passwords.ts';
import type { TokenSigner } from '../../core/auth/tokens.ts';
import { User } from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { unauthenticated } from '../../core/errors.ts';

const loginBody = z.object({
  email: z.email().max(320),
  password: z.string().min(1).max(1024),
});

// Checked against when the email is unknown, so both failures take the same time.
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export function authRoutes(deps: { em: EntityManager; tokens: TokenSigner }): Router {
  const router = Router();
  router.post('/auth/login', async (req, res) => {
    const { email, password } = loginBody.parse(req.body);
    const user = await deps.em
      .fork()
      .findOne(User, { email: email.toLowerCase() }, { populate: ['passwordHash'] });
    const valid = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !valid) throw unauthenticated('Wrong email or password');
    const { token, expiresAt } = await deps.tokens.issue({ userId: user.id });
    res.json({ token, expiresAt: expiresAt.toISOString() });
  });
  return router;
}
