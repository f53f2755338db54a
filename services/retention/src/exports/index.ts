import type { Provider } from '@nestjs/common';
import { ExportLinks } from './export-links.js';
import { ExportsHandlers } from './exports.handlers.js';
import { ExportsExpirySweeper } from './exports-expiry.sweeper.js';
import { ExportsSweeper } from './exports.sweeper.js';
import { ExportsRepository } from './persistence/exports.repository.js';
import { ArchiveWriter } from './usecases/build-export/archive-writer.js';
import { ExportBuilder } from './usecases/build-export/export-builder.js';
import { RetentionSlice } from './usecases/build-export/retention-slice.js';
import { SliceCollector } from './usecases/build-export/slice-collector.js';
import { ExpireExports } from './usecases/expire-exports/expire-exports.usecase.js';
import { OpenExport } from './usecases/open-export/open-export.usecase.js';

/** Access/export archives: each service's slice, one encrypted tar, an expiring link. */
export const EXPORT_PROVIDERS: Provider[] = [ExportsRepository, ExportLinks, SliceCollector, RetentionSlice, ArchiveWriter, ExportBuilder, ExpireExports, OpenExport, ExportsExpirySweeper, ExportsSweeper, ExportsHandlers];
