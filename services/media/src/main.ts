import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfigOrExit } from '@homiwork/config';
import type { Logger } from '@homiwork/observability';
import { LOGGER, startService } from '@homiwork/service-kit';
import { ObjectStore } from '@homiwork/storage';
import { mediaConfigSchema } from './config.js';
import { registerInternalRoutes } from './http/internal-routes.js';
import { MediaModule } from './media.module.js';
import { UploadsRepository } from './persistence/uploads.repository.js';
import { StoreUpload } from './usecases/store-upload/store-upload.usecase.js';

const config = loadConfigOrExit(mediaConfigSchema);
await startService(MediaModule.forRoot(config), config, {
  service: 'media',
  configure: (app) =>
    registerInternalRoutes(app.getHttpAdapter().getInstance(), {
      token: config.INTERNAL_API_TOKEN,
      storeUpload: app.get(StoreUpload),
      dataSource: app.get(DataSource),
      uploads: app.get(UploadsRepository),
      store: app.get(ObjectStore),
      logger: app.get<Logger>(LOGGER),
    }),
});
