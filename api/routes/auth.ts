import { z } from 'zod';
import { acceptInvitation, createOrganizationWithOwner } from '../../core/auth/organizations.ts';
import { verifyPassword } from '../../core/auth/passwords.ts';
import type { TokenSigner } from '../../core/auth/tokens.ts';
import { User } from '../../core/db/entities/index.ts';
import { AppError, unauthenticated } from '../../core/errors.ts';
import { type AnyRoute, publicRoute } from '../routing/route.ts';
import { displayName, email, password } from '../schemas.ts';

const loginBody = z.object({ email, password: z.string().min(1).max(1024) }).strict();

const signupBody = z
  .object({
    email,
    password,
    displayName: displayName.optional(),
    organizationName: z.string().trim().min(1).max(200).optional(),
    invitationToken: z.string().min(10).max(200).optional(),
  })
  .strict()
  .refine((body) => body.organizationName || body.invitationToken, {
    message: 'give organizationName to create an organization, or invitationToken to join one',
    path: ['organizationName'],
  });

const sessionSchema = z.object({ token: z.string(), expiresAt: z.string() });

const signupAnswer = sessionSchema.extend({
  user: z.object({ id: z.string(), email: z.string() }),
  organization: z.object({ id: z.string(), name: z.string() }),
  workspace: z.object({ id: z.string(), name: z.string() }),
});

// Checked when the email is unknown, so that both failures take the same time.
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export function authRoutes(deps: {
  tokens: TokenSigner;
  signupMode: 'open' | 'invite' | 'closed';
}): AnyRoute[] {
  const session = async (userId: string) => {
    const { token, expiresAt } = await deps.tokens.issue({ userId });
    return { token, expiresAt: expiresAt.toISOString() };
  };
  return [
    publicRoute({
      method: 'post',
      path: '/auth/signup',
      tag: 'auth',
      summary:
        'Create an account: a new organization (with its default workspace) or, with an invitation, a seat in one',
      body: signupBody,
      response: { status: 201, description: 'Account created; a session token', schema: signupAnswer },
      async handler({ body, em }) {
        if (deps.signupMode === 'closed')
          throw new AppError('FORBIDDEN', 'Sign-up is closed on this installation');
        if (deps.signupMode === 'invite' && !body.invitationToken) {
          throw new AppError('FORBIDDEN', 'Sign-up needs an invitation on this installation');
        }
        const { organization, workspace, user } = body.invitationToken
          ? await acceptInvitation(em, { ...body, token: body.invitationToken })
          : await createOrganizationWithOwner(em, { ...body, organizationName: body.organizationName! });
        return {
          body: {
            ...(await session(user.id)),
            user: { id: user.id, email: user.email },
            organization: { id: organization.id, name: organization.name },
            workspace: { id: workspace.id, name: workspace.name },
          },
        };
      },
    }),
    publicRoute({
      method: 'post',
      path: '/auth/login',
      tag: 'auth',
      summary: 'Exchange email and password for a session token (FB_JWT)',
      body: loginBody,
      response: { status: 200, description: 'A session token and its expiry', schema: sessionSchema },
      async handler({ body, em }) {
        const user = await em.findOne(User, { email: body.email }, { populate: ['passwordHash'] });
        const valid = await verifyPassword(body.password, user?.passwordHash ?? DUMMY_HASH);
        if (!user || !valid) throw unauthenticated('Wrong email or password');
        return { body: await session(user.id) };
      },
    }),
  ];
}
