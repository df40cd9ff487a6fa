/** The exit code of Aloft's scheduling child that found its epoch stale: another node leads. */
export const FENCED_EXIT_CODE = 75;
