import { Module, type DynamicModule } from '@nestjs/common';
import { Moderator, moderatorFromConfig } from '@homiwork/moderation';
import type { Logger } from '@homiwork/observability';
import { LOGGER, ServiceKitModule } from '@homiwork/service-kit';
import { parseS3Url, type StorageConfig } from '@homiwork/storage';
import { GenerationConfig } from './config.js';
import { ContractorEgress } from './contractor/egress.js';
import { GenerationHandlers } from './generation.handlers.js';
import { GenerationMetrics } from './generation-metrics.js';
import { MediaUploads } from './media/media-uploads.js';
import { GENERATION_MIGRATIONS } from './migrations/index.js';
import { ContentsRepository } from './persistence/contents.repository.js';
import { ErasedUsersRepository } from './persistence/erased-users.repository.js';
import { JobsRepository } from './persistence/jobs.repository.js';
import { PrimeStatusRepository } from './persistence/prime-status.repository.js';
import { ChatReply } from './usecases/chat-reply/chat-reply.usecase.js';
import { CreateGeneration } from './usecases/create-generation/create-generation.usecase.js';
import { DeleteContent } from './usecases/delete-content/delete-content.usecase.js';
import { ExportSliceRepository } from './usecases/export-slice/export-slice.repository.js';
import { ExportSlice } from './usecases/export-slice/export-slice.usecase.js';
import { FailJob } from './usecases/fail-job/fail-job.usecase.js';
import { GetContent } from './usecases/get-content/get-content.usecase.js';
import { GetContentFile } from './usecases/get-content-file/get-content-file.usecase.js';
import { GetGeneration } from './usecases/get-generation/get-generation.usecase.js';
import { ListContents } from './usecases/list-contents/list-contents.usecase.js';
import { ContentSweeper } from './usecases/purge-content/content-sweeper.js';
import { PurgeContent } from './usecases/purge-content/purge-content.usecase.js';
import { PurgeUser } from './usecases/purge-user/purge-user.usecase.js';
import { RecordPrimeStatus } from './usecases/record-prime-status/record-prime-status.usecase.js';
import { PROCESSING_RESTRICTION_PROVIDERS } from '@homiwork/persistence';
import { RestoreContent } from './usecases/restore-content/restore-content.usecase.js';
import { JobRunner } from './usecases/run-job/job-runner.js';
import { JobWakeup } from './usecases/run-job/job-wakeup.js';
import { RunJob } from './usecases/run-job/run-job.usecase.js';
import { SweepErasedObjects } from './usecases/sweep-erased-objects/sweep-erased-objects.usecase.js';
import { SweepJobs } from './usecases/sweep-jobs/sweep-jobs.usecase.js';

function storageConfig(config: GenerationConfig): StorageConfig {
  return parseS3Url(config.S3_URL, config.S3_BUCKET, { accessKey: config.S3_ACCESS_KEY, secretKey: config.S3_SECRET_KEY });
}

@Module({})
export class GenerationModule {
  static forRoot(config: GenerationConfig, overrides: { logger?: Logger } = {}): DynamicModule {
    return {
      module: GenerationModule,
      imports: [ServiceKitModule.forRoot({ service: 'generation', config, migrations: [...GENERATION_MIGRATIONS], storage: storageConfig(config), ...overrides })],
      providers: [
        { provide: GenerationConfig, useValue: config },
        { provide: Moderator, useValue: moderatorFromConfig(config) },
        // The one way out to AI contractors (§7.2); built once, with its adapters, from the config.
        { provide: ContractorEgress, inject: [LOGGER], useFactory: (logger: Logger) => ContractorEgress.fromConfig(config, logger) },
        GenerationMetrics,
        MediaUploads,
        JobsRepository,
        ContentsRepository,
        PrimeStatusRepository,
        ErasedUsersRepository,
        FailJob,
        CreateGeneration,
        GetGeneration,
        ListContents,
        GetContent,
        GetContentFile,
        DeleteContent,
        RestoreContent,
        RecordPrimeStatus,
        ...PROCESSING_RESTRICTION_PROVIDERS,
        PurgeContent,
        PurgeUser,
        SweepJobs,
        SweepErasedObjects,
        ContentSweeper,
        JobWakeup,
        RunJob,
        JobRunner,
        ChatReply,
        ExportSliceRepository,
        ExportSlice,
        GenerationHandlers,
      ],
    };
  }
}
