// The parser for each registry kind (a registry's `kind` in ferry.yaml).
import type { EventKind } from '../config/schema.js';
import type { EventParser } from './types.js';
import { parseArtifactory } from './artifactory.js';
import { parseDistribution } from './distribution.js';
import { parseDockerHub } from './dockerhub.js';
import { parseEcr } from './ecr.js';
import { parseGitea } from './gitea.js';
import { parseGitHub } from './github.js';
import { parseHarbor } from './harbor.js';
import { parseQuay } from './quay.js';
import { parseZot } from './zot.js';

export const PARSERS: Readonly<Record<EventKind, EventParser>> = {
  distribution: parseDistribution,
  harbor: parseHarbor,
  ecr: parseEcr,
  dockerhub: parseDockerHub,
  zot: parseZot,
  quay: parseQuay,
  github: parseGitHub,
  gitea: parseGitea,
  artifactory: parseArtifactory,
};

export function parserFor(kind: EventKind): EventParser {
  return PARSERS[kind];
}
