namespace SlmStudio.Core.Tests;

public static class TestPaths
{
    /// <summary>The repository root (holds SlmStudio.sln), found from the test's output folder.</summary>
    public static string RepoRoot { get; } = FindUp(AppContext.BaseDirectory, "SlmStudio.sln")
        ?? throw new InvalidOperationException("Cannot find SlmStudio.sln above the test output folder.");

    /// <summary>../shared/fixtures beside the repository (read-only).</summary>
    public static string Fixtures => Path.Combine(Path.GetDirectoryName(RepoRoot)!, "shared", "fixtures");

    public static string TinyLlama => Path.Combine(Fixtures, "tiny-llama-hf");

    public static string NewTempDir(string prefix = "slm-test")
    {
        var dir = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string? FindUp(string start, string marker)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, marker))) return dir.FullName;
        return null;
    }
}
