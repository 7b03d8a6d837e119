namespace SlmStudio.Cli.Tests;

/// <summary>The read-only Hugging Face fixtures in ../shared/fixtures beside the repository root.</summary>
public static class FixturePaths
{
    public static string RepoRoot { get; } = FindUp(AppContext.BaseDirectory, "SlmStudio.sln")
        ?? throw new InvalidOperationException("Cannot find SlmStudio.sln above the test output folder.");

    public static string Fixtures => Path.Combine(Path.GetDirectoryName(RepoRoot)!, "shared", "fixtures");

    public static string Fixture(string name) => Path.Combine(Fixtures, name);

    /// <summary>A writable copy of a fixture folder, for tests that change files in it.</summary>
    public static string CopyFixture(string name, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.GetFiles(Fixture(name)))
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        return destination;
    }

    private static string? FindUp(string start, string marker)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, marker))) return dir.FullName;
        return null;
    }
}
