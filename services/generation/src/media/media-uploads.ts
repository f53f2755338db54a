import { Inject, Injectable } from '@nestjs/common';
import { MediaRpc, type CallerContext } from '@homiwork/contracts';
import { RpcClient, RpcError } from '@homiwork/messaging';
import { GenerationConfig } from '../config.js';
import type { ContractorInput } from '../contractor/contractor.js';
import { JobFailure } from '../domain/job-state.js';

/** Header of media's internal byte API carrying the caller context (as the gateway sends it). */
const CALLER_HEADER = 'hw-caller';

/**
 * Generation's view of media: whether uploads are the caller's (NATS, as the caller), and
 * the transformed bytes of one (media's internal HTTP API: files do not fit NATS messages).
 * Media answers only for the user named in the caller context, so another user's upload is
 * simply not found here either. This folder is, with the contractor egress, the only place
 * in generation allowed to open an HTTP connection (eslint.config.mjs).
 */
@Injectable()
export class MediaUploads {
  constructor(
    private readonly rpc: RpcClient,
    @Inject(GenerationConfig) private readonly config: GenerationConfig,
  ) {}

  /** Media's facts of each upload, in order; undefined where it is not the caller's live upload. Throws RpcError when media cannot answer. */
  async describe(uploadIds: readonly string[], caller: CallerContext): Promise<Array<MediaRpc.Upload | undefined>> {
    return Promise.all(
      uploadIds.map((id) =>
        this.rpc.call(MediaRpc.GetUploadRoute, { id }, caller).then(
          (upload) => upload,
          (error: unknown) => {
            if (error instanceof RpcError && error.status === 404) return undefined;
            throw error;
          },
        ),
      ),
    );
  }

  /**
   * The transformed bytes of the user's upload, for one dispatch; never stored here. More
   * than `maxBytes` (what is left of the job's GENERATION_MAX_INPUT_MB) fails the job with
   * `input_too_large` as soon as it shows, so a job never holds more than that in memory.
   */
  async read(uploadId: string, caller: { requestId: string; userId: string }, signal: AbortSignal, maxBytes: number = this.config.GENERATION_MAX_INPUT_MB): Promise<ContractorInput> {
    let answer: Response;
    try {
      answer = await fetch(`${this.config.MEDIA_INTERNAL_URL}/internal/uploads/${uploadId}/file`, {
        headers: { authorization: `Bearer ${this.config.INTERNAL_API_TOKEN}`, [CALLER_HEADER]: JSON.stringify(caller) },
        redirect: 'error',
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new JobFailure('upload_unavailable');
    }
    if (answer.status === 404) {
      await answer.body?.cancel();
      throw new JobFailure('upload_not_found');
    }
    if (!answer.ok || !answer.body) {
      await answer.body?.cancel();
      throw new JobFailure('upload_unavailable');
    }
    const declared = Number(answer.headers.get('content-length') ?? Number.NaN);
    if (declared > maxBytes) {
      await answer.body.cancel();
      throw new JobFailure('input_too_large');
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of answer.body as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      if (bytes > maxBytes) throw new JobFailure('input_too_large');
      chunks.push(Buffer.from(chunk));
    }
    const mimeType = (answer.headers.get('content-type') ?? '').split(';')[0]!.trim();
    if (!/^[a-z]+\/[a-z0-9.+-]+$/.test(mimeType)) throw new JobFailure('upload_unavailable');
    return { mimeType, data: Buffer.concat(chunks, bytes) };
  }
}
