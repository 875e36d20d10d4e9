export { ArtifactError, type ArtifactBackend, type ArtifactObject } from './backend';
export { checkKey, ArtifactKeyError } from './keys';
export { dirBackend } from './dir-backend';
export { s3Backend, type S3Settings } from './s3-backend';
export { ArtifactStore, dataKeysOf, type DataKeys, type ArtifactInfo, type ByteRange } from './store';
export { ArtifactWriter, type WrittenArtifact } from './writer';
export { artifactBackend, artifactStore, backendForDataDir, storeFor, backendFrom, checkArtifactStore, closeArtifactBackends, s3SettingsFrom, type ArtifactEnv } from './config';
export { copyArtifacts, type CopyResult } from './copy';
export { cachedModelPath, localModelPath, type ModelArtifact, type ModelSource } from './model-cache';
