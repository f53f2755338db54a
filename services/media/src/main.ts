import 'reflect-metadata';
import { loadConfigOrExit } from '@homiwork/config';
import type { Logger } from '@homiwork/observability';
import { LOGGER, startService } from '@homiwork/service-kit';
import { mediaConfigSchema } from './config.js';
import { registerInternalRoutes } from './http/internal-routes.js';
import { MediaModule } from './media.module.js';
import { GetUploadFile } from './usecases/get-upload-file/get-upload-file.usecase.js';
import { StoreUpload } from './usecases/store-upload/store-upload.usecase.js';

const config = loadConfigOrExit(mediaConfigSchema);
await startService(MediaModule.forRoot(config), config, {
  service: 'media',
  configure: (app) =>
    registerInternalRoutes(app.getHttpAdapter().getInstance(), {
      token: config.INTERNAL_API_TOKEN,
      storeUpload: app.get(StoreUpload),
      getUploadFile: app.get(GetUploadFile),
      logger: app.get<Logger>(LOGGER),
    }),
});
