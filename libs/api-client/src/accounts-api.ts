import { DeleteMe, GetMe, LogIn, LogOut, ConfirmPasswordReset, Refresh, Register, RequestPasswordReset, UpdateMe, type HttpBody, type HttpResponse } from '@homiwork/contracts';
import type { ApiClient } from './api-client.js';

/** The account routes by name, for tests and tools that would otherwise repeat the route table. */
export class AccountsApi {
  constructor(private readonly client: ApiClient) {}

  register(body: HttpBody<typeof Register>): Promise<HttpResponse<typeof Register>> {
    return this.client.call(Register, { body });
  }

  login(body: HttpBody<typeof LogIn>): Promise<HttpResponse<typeof LogIn>> {
    return this.client.call(LogIn, { body });
  }

  refresh(refreshToken: string): Promise<HttpResponse<typeof Refresh>> {
    return this.client.call(Refresh, { body: { refreshToken } });
  }

  async logout(refreshToken: string): Promise<void> {
    await this.client.call(LogOut, { body: { refreshToken } });
  }

  async requestPasswordReset(email: string): Promise<void> {
    await this.client.call(RequestPasswordReset, { body: { email } });
  }

  async confirmPasswordReset(token: string, password: string): Promise<void> {
    await this.client.call(ConfirmPasswordReset, { body: { token, password } });
  }

  me(): Promise<HttpResponse<typeof GetMe>> {
    return this.client.call(GetMe);
  }

  updateMe(body: HttpBody<typeof UpdateMe>): Promise<HttpResponse<typeof UpdateMe>> {
    return this.client.call(UpdateMe, { body });
  }

  deleteMe(password: string): Promise<HttpResponse<typeof DeleteMe>> {
    return this.client.call(DeleteMe, { body: { password } });
  }
}
