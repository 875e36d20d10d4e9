/** UI strings of the monitoring screens: English, and Simplified Chinese (the type makes a missing key an error). */
export const monitoringEn = {
} as const;

export const monitoringZh: Record<keyof typeof monitoringEn, string> = {
};
