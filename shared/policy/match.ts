// The filter language lives with the config that validates it; policy code matches through here.
export { FilterError, filterProblems, globSet, matchesRepository, matchesTag, type FilterKind, type GlobSet } from '../config/filters.js';
