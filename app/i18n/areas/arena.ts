/** UI strings of the arena screens: English, and Simplified Chinese (the type makes a missing key an error). */
export const arenaEn = {
} as const;

export const arenaZh: Record<keyof typeof arenaEn, string> = {
};
