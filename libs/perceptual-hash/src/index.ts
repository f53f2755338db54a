export { differenceHash, formatDHash, hammingDistance, imageDHash } from './dhash.js';
