import { Body, Controller, Param, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { CreateGeneration, GenerationRpc, GetGeneration } from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';
import { callerOf } from '../edge/request-context.js';
import { ServeRoute } from './http-route.decorator.js';
import { parseBody } from './parse-body.js';
import { resourceId } from './request-params.js';

/** The generation half of API.md's "Generations and content": validate at the edge, then ask generation. */
@Controller()
export class GenerationsController {
  constructor(private readonly rpc: RpcClient) {}

  @ServeRoute(CreateGeneration)
  create(@Body() body: unknown, @Req() request: FastifyRequest) {
    return this.rpc.call(GenerationRpc.CreateGenerationRoute, parseBody(CreateGeneration.body, body), callerOf(request));
  }

  @ServeRoute(GetGeneration)
  get(@Param('id') id: string, @Req() request: FastifyRequest) {
    return this.rpc.call(GenerationRpc.GetGenerationRoute, { id: resourceId(id) }, callerOf(request));
  }
}
