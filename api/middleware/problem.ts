/**
 * Every API error leaves as RFC 9457 problem JSON with a stable `code`.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { ZodError } from 'zod';
import { AppError, type ErrorCode } from '../../core/errors.ts';
import { OutboundAddressRefused } from '../../core/net/outbound-guard.ts';

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  instance?: string;
  errors?: { path: string; message: string }[];
}

export function sendProblem(
  res: Response,
  error: AppError,
  instance?: string,
  extra: Partial<Problem> = {},
): void {
  const problem: Problem = {
    type: `https://skybridge.dev/problems/${error.code.toLowerCase().replaceAll('_', '-')}`,
    title: error.code
      .replaceAll('_', ' ')
      .toLowerCase()
      .replace(/^\w/, (c) => c.toUpperCase()),
    status: error.httpStatus,
    code: error.code,
    detail: error.message,
    ...(instance ? { instance } : {}),
    ...extra,
  };
  res.status(problem.status).type('application/problem+json').json(problem);
}

/** A user-supplied address the server refuses to contact (SSRF protection). */
function fromOutboundGuard(error: unknown): AppError | undefined {
  if (error instanceof OutboundAddressRefused) return new AppError('ADDRESS_NOT_ALLOWED', error.message);
  return undefined;
}

/** Body-parser failures carry a `type` and a `status`; map them to our codes. */
function fromBodyParser(error: { type?: string; status?: number }): AppError | undefined {
  if (error.type === 'entity.parse.failed')
    return new AppError('BAD_REQUEST', 'Request body is not valid JSON');
  if (error.type === 'entity.too.large')
    return new AppError('PAYLOAD_TOO_LARGE', 'Request body is too large');
  if (error.type === 'encoding.unsupported' || error.type === 'charset.unsupported')
    return new AppError('BAD_REQUEST', 'Unsupported request body encoding');
  return undefined;
}

/** Errors with a known meaning, as AppErrors; anything else is an internal error. */
export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  return fromOutboundGuard(error) ?? fromBodyParser(error as { type?: string });
}

export const problemErrorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const instance = req.originalUrl.split('?')[0];
  if (error instanceof ZodError) {
    const errors = error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    sendProblem(
      res,
      new AppError('VALIDATION_FAILED', 'Request does not match the expected shape'),
      instance,
      { errors },
    );
    return;
  }
  const known = toAppError(error);
  if (known) {
    sendProblem(res, known, instance);
    return;
  }
  req.log.error({ err: error }, 'unhandled error');
  sendProblem(res, new AppError('INTERNAL', 'Internal error'), instance);
};

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(res, new AppError('NOT_FOUND', `No route for ${req.method} ${req.path}`), req.path);
};
