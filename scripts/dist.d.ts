// Types of scripts/dist.js (plain JavaScript, so the launcher that loads it strips no types).
export declare const REPO_ROOT: string;
export declare const STAMP: string;
export declare function sourceStamp(root?: string): string;
export declare function distState(root?: string): 'fresh' | 'stale' | 'absent';
