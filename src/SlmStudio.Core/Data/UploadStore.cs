namespace SlmStudio.Core.Data;

/// <summary>Saves uploads under generated names, enforcing the size limit while the bytes arrive.</summary>
public static class UploadStore
{
    /// <summary>
    /// Copies <paramref name="content"/> into <paramref name="folder"/> under a generated name. A stream that runs past
    /// <see cref="DataLimits.MaxFileBytes"/> is cut off and nothing is kept; a partial file is never left behind.
    /// </summary>
    public static async Task<(string? StoredPath, DataProblem? Problem)> SaveAsync(Stream content, string originalName, string folder, DataLimits limits, CancellationToken ct)
    {
        Directory.CreateDirectory(folder);
        var stored = Path.Combine(folder, SafeFileName.NewStorageName(originalName));
        var temp = stored + ".part";
        try
        {
            long total = 0;
            await using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
            {
                var buffer = new byte[81920];
                int n;
                while ((n = await content.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                {
                    total += n;
                    if (total > limits.MaxFileBytes)
                        return (null, new DataProblem(SafeFileName.ForDisplay(originalName), null, ProblemSeverity.Error,
                            $"The file is larger than the limit of {FileInspector.Megabytes(limits.MaxFileBytes)} MB, so it was not stored.",
                            "Split it into smaller files, or ask your administrator to raise the upload limit."));
                    await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                }
            }
            File.Move(temp, stored);
            return (stored, null);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
