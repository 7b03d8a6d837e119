namespace SlmStudio.Core;

/// <summary>Names the disk a path lies on and its free space, for messages about writes that failed.</summary>
public static class DiskSpace
{
    /// <summary>"The disk holding it (/data) has 12 MB free of 20 GB." or "" when the system does not say.</summary>
    public static string Describe(string path)
    {
        try
        {
            var full = Path.GetFullPath(path) + Path.DirectorySeparatorChar;
            DriveInfo? best = null;
            foreach (var drive in DriveInfo.GetDrives())
            {
                var root = drive.RootDirectory.FullName.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
                var comparison = OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
                if (full.StartsWith(root, comparison) && (best is null || root.Length > best.RootDirectory.FullName.TrimEnd(Path.DirectorySeparatorChar).Length + 1))
                    best = drive;
            }
            if (best is null || !best.IsReady) return "";
            return $"The disk holding it ({best.Name}) has {Size(best.AvailableFreeSpace)} free of {Size(best.TotalSize)}.";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return "";
        }
    }

    private static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.#} GB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.#} MB",
        _ => $"{bytes / 1024.0:0.#} KB",
    };
}
