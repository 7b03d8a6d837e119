namespace SlmStudio.Core.Tests.Tokenization;

/// <summary>A temporary folder that is deleted when the test is done.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = TestPaths.NewTempDir("slm-tokenizer");

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { } // best effort: a leftover temp folder must not fail a test
    }
}
