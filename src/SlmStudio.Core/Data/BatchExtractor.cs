namespace SlmStudio.Core.Data;

/// <summary>One uploaded file to extract: where it is stored, the name the user gave it, and its column mapping.</summary>
public sealed record UploadedFile(string StoredPath, string OriginalName, ColumnMapping? Mapping = null);

/// <summary>
/// Extracts many uploads at once, a few in parallel, reporting progress per file. PDF, DOCX and HTML (the parsers
/// that meet hostile input) run in the isolated child process when an <see cref="IsolatedExtractor"/> is given.
/// </summary>
public static class BatchExtractor
{
    public static async Task<IReadOnlyList<ExtractedDocument>> ExtractAllAsync(
        IReadOnlyList<UploadedFile> files, IsolatedExtractor? isolated, DataLimits limits, IProgress<DataProgress>? progress,
        CancellationToken ct, bool isolateAll = false, int? parallelism = null)
    {
        var docs = new ExtractedDocument[files.Count];
        int done = 0;
        progress?.Report(new DataProgress("extract", 0, files.Count));
        await Parallel.ForEachAsync(Enumerable.Range(0, files.Count),
            new ParallelOptions { MaxDegreeOfParallelism = parallelism ?? Math.Max(1, Environment.ProcessorCount), CancellationToken = ct },
            async (i, token) =>
            {
                var file = files[i];
                var kind = FileInspector.KindFromExtension(SafeFileName.Extension(file.OriginalName));
                var risky = kind is DocumentKind.Pdf or DocumentKind.Docx or DocumentKind.Html;
                docs[i] = isolated is not null && (isolateAll || risky)
                    ? await isolated.ExtractAsync(file.StoredPath, file.OriginalName, file.Mapping, limits, token).ConfigureAwait(false)
                    : await DocumentExtractor.ExtractAsync(file.StoredPath, file.OriginalName, file.Mapping, limits, token).ConfigureAwait(false);
                progress?.Report(new DataProgress("extract", Interlocked.Increment(ref done), files.Count, file.OriginalName));
            }).ConfigureAwait(false);
        return docs;
    }
}
