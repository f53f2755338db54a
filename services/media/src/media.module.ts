import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { ServiceKitModule } from '@homiwork/service-kit';
import { parseS3Url, type StorageConfig } from '@homiwork/storage';
import { MediaConfig } from './config.js';
import { MediaHandlers } from './media.handlers.js';
import { MEDIA_MIGRATIONS } from './migrations/index.js';
import { UploadWorkDirs } from './persistence/upload-work-dirs.js';
import { UploadMetrics } from './upload-metrics.js';
import { UploadsRepository } from './persistence/uploads.repository.js';
import { Moderator, moderatorFromConfig } from '@homiwork/moderation';
import { AvTransformer, ImageTransformer } from './processing/index.js';
import { DeleteUpload } from './usecases/delete-upload/delete-upload.usecase.js';
import { ExportSliceRepository } from './usecases/export-slice/export-slice.repository.js';
import { ExportSlice } from './usecases/export-slice/export-slice.usecase.js';
import { GetUpload } from './usecases/get-upload/get-upload.usecase.js';
import { GetUploadFile } from './usecases/get-upload-file/get-upload-file.usecase.js';
import { ListUploads } from './usecases/list-uploads/list-uploads.usecase.js';
import { PurgeUploads } from './usecases/purge-uploads/purge-uploads.usecase.js';
import { UploadSweeper } from './usecases/purge-uploads/upload-sweeper.js';
import { StoreUpload } from './usecases/store-upload/store-upload.usecase.js';

function storageConfig(config: MediaConfig): StorageConfig {
  // Compose gives the keys apart from the URL; either way works.
  return parseS3Url(config.S3_URL, config.S3_BUCKET, { accessKey: config.S3_ACCESS_KEY, secretKey: config.S3_SECRET_KEY });
}

@Module({})
export class MediaModule {
  static forRoot(config: MediaConfig, overrides: { logger?: Logger } = {}): DynamicModule {
    return {
      module: MediaModule,
      imports: [ServiceKitModule.forRoot({ service: 'media', config, migrations: MEDIA_MIGRATIONS, storage: storageConfig(config), ...overrides })],
      providers: [
        { provide: MediaConfig, useValue: config },
        UploadsRepository,
        UploadWorkDirs,
        UploadMetrics,
        StoreUpload,
        ListUploads,
        GetUpload,
        GetUploadFile,
        DeleteUpload,
        PurgeUploads,
        UploadSweeper,
        ExportSliceRepository,
        ExportSlice,
        MediaHandlers,
        { provide: ImageTransformer, useValue: new ImageTransformer() },
        { provide: AvTransformer, useValue: new AvTransformer() },
        { provide: Moderator, useValue: moderatorFromConfig(config) },
      ],
    };
  }
}
