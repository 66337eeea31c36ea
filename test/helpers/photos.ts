import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../scripts/build-functions';

export const PHOTOS_DIR = join(ROOT, 'test', 'fixtures', 'photos');

/** A real photograph from test/fixtures/photos, as bytes (prepare never gets a path). */
export const photo = (name: string): Buffer => readFileSync(join(PHOTOS_DIR, name));
