// ECR only accepts pushes to repositories that exist. For destination registries with
// `ecr.createRepositories`, the worker makes sure a job's destination repository exists
// before it copies: DescribeRepositories, and on RepositoryNotFoundException
// CreateRepository (scan-on-push as configured), then SetRepositoryPolicy when a policy is
// configured. Known repositories are remembered for the container's life; concurrent jobs
// for one repository share one check; losing a creation race to another worker is fine.
import type { ECRClient } from '@aws-sdk/client-ecr';
import type { FerryConfig } from '../../shared/config/schema.js';
import type { ReplicationTask } from '../../shared/replicate/types.js';
import { parseEcrUrl } from './ecr-routing.js';

export interface EcrRepositorySettings {
  createRepositories: boolean;
  repositoryPolicy?: string | undefined;
  scanOnPush: boolean;
}

export type EnsureRepository = (repository: string) => Promise<'exists' | 'created'>;

export class EcrRepositoryError extends Error {
  override readonly name = 'EcrRepositoryError';
}

function errorName(e: unknown): string {
  return typeof e === 'object' && e !== null && 'name' in e ? String((e as { name: unknown }).name) : '';
}

export function ecrRepositoryEnsurer(client: ECRClient, registryId: string, settings: EcrRepositorySettings): EnsureRepository {
  const known = new Map<string, Promise<'exists' | 'created'>>();
  const ensure = async (repositoryName: string): Promise<'exists' | 'created'> => {
    const sdk = await import('@aws-sdk/client-ecr');
    try {
      await client.send(new sdk.DescribeRepositoriesCommand({ registryId, repositoryNames: [repositoryName] }));
      return 'exists';
    } catch (e) {
      if (errorName(e) !== 'RepositoryNotFoundException') throw new EcrRepositoryError(`ECR ${registryId}: DescribeRepositories ${repositoryName}: ${(e as Error).message}`);
    }
    try {
      await client.send(new sdk.CreateRepositoryCommand({ registryId, repositoryName, imageScanningConfiguration: { scanOnPush: settings.scanOnPush } }));
    } catch (e) {
      // Another worker created it between our describe and create.
      if (errorName(e) === 'RepositoryAlreadyExistsException') return 'exists';
      throw new EcrRepositoryError(`ECR ${registryId}: CreateRepository ${repositoryName}: ${(e as Error).message}`);
    }
    if (settings.repositoryPolicy !== undefined) {
      try {
        await client.send(new sdk.SetRepositoryPolicyCommand({ registryId, repositoryName, policyText: settings.repositoryPolicy }));
      } catch (e) {
        throw new EcrRepositoryError(`ECR ${registryId}: SetRepositoryPolicy ${repositoryName} (repository created): ${(e as Error).message}`);
      }
    }
    return 'created';
  };
  return (repository) => {
    let result = known.get(repository);
    if (!result) {
      result = ensure(repository);
      // A failure is not remembered: the job's retry asks again.
      result.catch(() => known.delete(repository));
      known.set(repository, result);
    }
    return result;
  };
}

/**
 * The worker's beforeCopy hook: ensures the destination repository for jobs that go to an
 * ECR registry with createRepositories; undefined when no registry asks for it.
 */
export async function ecrBeforeCopy(
  config: Pick<FerryConfig, 'registries'>,
  clientFor: (region: string) => ECRClient | Promise<ECRClient>,
): Promise<((task: ReplicationTask) => Promise<void>) | undefined> {
  const ensurers = new Map<string, EnsureRepository>();
  for (const [name, registry] of Object.entries(config.registries)) {
    if (!registry.ecr?.createRepositories) continue;
    const ecr = parseEcrUrl(registry.url);
    if (!ecr) throw new EcrRepositoryError(`registries.${name}.ecr.createRepositories: ${registry.url} is not an ECR registry URL`);
    ensurers.set(name, ecrRepositoryEnsurer(await clientFor(ecr.region), ecr.account, registry.ecr));
  }
  if (ensurers.size === 0) return undefined;
  return async (task) => {
    const ensure = ensurers.get(task.destination.registry);
    if (ensure) await ensure(task.destination.repository);
  };
}
