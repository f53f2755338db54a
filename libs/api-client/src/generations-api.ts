import { CreateGeneration, DeleteContent, GetContent, GetContentFile, GetGeneration, ListContents, RestoreContent, type HttpBody, type HttpResponse } from '@homiwork/contracts';
import type { ApiClient, Download } from './api-client.js';

/** The generation routes by name. */
export class GenerationsApi {
  constructor(private readonly client: ApiClient) {}

  /** Starts a job (202); poll `get` until it has succeeded or failed. */
  create(body: HttpBody<typeof CreateGeneration>): Promise<HttpResponse<typeof CreateGeneration>> {
    return this.client.call(CreateGeneration, { body });
  }

  get(id: string): Promise<HttpResponse<typeof GetGeneration>> {
    return this.client.call(GetGeneration, { params: { id } });
  }
}

/** The content routes by name. */
export class ContentsApi {
  constructor(private readonly client: ApiClient) {}

  /** The caller's live content, or with `deleted: true` the trash. */
  list(options: { deleted?: boolean } = {}): Promise<HttpResponse<typeof ListContents>> {
    return this.client.call(ListContents, { query: { deleted: options.deleted === undefined ? undefined : String(options.deleted) } });
  }

  get(id: string): Promise<HttpResponse<typeof GetContent>> {
    return this.client.call(GetContent, { params: { id } });
  }

  /** The bytes, streamed through the gateway. */
  file(id: string): Promise<Download> {
    return this.client.download(GetContentFile, { params: { id } });
  }

  /** A signed URL of the object (valid for at most 15 minutes), from the `?redirect=true` answer. */
  signedUrl(id: string): Promise<string> {
    return this.client.location(GetContentFile, { params: { id }, query: { redirect: 'true' } });
  }

  async delete(id: string): Promise<void> {
    await this.client.call(DeleteContent, { params: { id } });
  }

  restore(id: string): Promise<HttpResponse<typeof RestoreContent>> {
    return this.client.call(RestoreContent, { params: { id } });
  }
}
