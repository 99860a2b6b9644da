/** Every activity the worker registers. */
export { answerPing } from './ping.ts';
