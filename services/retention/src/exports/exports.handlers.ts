import { Injectable } from '@nestjs/common';
import { RetentionRpc, type RpcRequest } from '@homiwork/contracts';
import { OnRpc } from '@homiwork/service-kit';
import { OpenExport } from './usecases/open-export/open-export.usecase.js';

/** The export download's route (the gateway's): hands over to OpenExport. */
@Injectable()
export class ExportsHandlers {
  constructor(private readonly openExport: OpenExport) {}

  @OnRpc(RetentionRpc.OpenExportRoute)
  open(request: RpcRequest<typeof RetentionRpc.OpenExportRoute>) {
    return this.openExport.execute(request.exportId, request.token);
  }
}
