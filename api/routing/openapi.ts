/**
 * The OpenAPI 3.1 document, generated from the route table and the same zod
 * schemas that validate requests, so the two cannot drift apart.
 */
import { z } from 'zod';
import type { AnyRoute } from './route.ts';

type JsonSchema = Record<string, unknown>;

const problemSchema: JsonSchema = {
  type: 'object',
  description: 'RFC 9457 problem details',
  required: ['type', 'title', 'status', 'code', 'detail'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string', description: 'stable machine-readable error code' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    errors: {
      type: 'array',
      items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
  },
};

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

const toJsonSchema = (schema: z.ZodType): JsonSchema =>
  z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;

function parametersOf(schema: z.ZodType | undefined, location: 'path' | 'query') {
  if (!schema) return [];
  const json = toJsonSchema(schema) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || (json.required ?? []).includes(name),
    schema: property,
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
  }));
}

function operationOf(route: AnyRoute) {
  const errorResponses: Record<string, unknown> = { '400': problemResponse('Malformed or invalid request') };
  if (route.access !== 'public') {
    errorResponses['401'] = problemResponse('Missing, invalid or expired token');
    errorResponses['403'] = problemResponse(`Needs the ${route.access} role or higher`);
    errorResponses['404'] = problemResponse('Not found (including resources of another organization)');
  }
  const { status, description, schema } = route.response;
  return {
    summary: route.summary,
    tags: [route.tag],
    operationId: `${route.method}${route.path.replace(/[/:{}-]+(\w)/g, (_, c: string) => c.toUpperCase())}`,
    ...(route.access === 'public' ? { security: [] } : { 'x-minimum-role': route.access }),
    parameters: [...parametersOf(route.params, 'path'), ...parametersOf(route.query, 'query')],
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: toJsonSchema(route.body) } },
          },
        }
      : {}),
    responses: {
      [String(status)]: {
        description,
        ...(schema ? { content: { 'application/json': { schema: toJsonSchema(schema) } } } : {}),
      },
      ...errorResponses,
    },
  };
}

export function buildOpenApiDocument(routes: AnyRoute[], info: { title: string; version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][route.method] = operationOf(route);
  }
  return {
    openapi: '3.1.0',
    info: { ...info, description: 'Skybridge management API (control plane).' },
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'FB_JWT from POST /auth/login',
        },
      },
      schemas: { Problem: problemSchema },
    },
  };
}
