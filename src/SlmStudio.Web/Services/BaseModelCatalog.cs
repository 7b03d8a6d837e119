using SlmStudio.Core;
using SlmStudio.Core.Library;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Services;

/// <summary>The outcome of the latest base model upload, for the library page.</summary>
public sealed record BaseModelImportResult(string FileName, bool Succeeded, string Message, DateTimeOffset At);

/// <summary>
/// The portal's view of the base model library under <c>Studio:BaseModelsPath</c>: scanned at start and on demand
/// (folders placed there by hand get their entry, or a plain reason why they cannot be used), and zip uploads
/// imported in the background. <see cref="BaseModelLibrary.Import"/> unpacks into a staging folder and renames it into
/// place, so a refused or failed import leaves nothing in the library; the uploaded zip is always deleted.
/// </summary>
public sealed class BaseModelCatalog(StudioPaths paths, IHostApplicationLifetime lifetime, TimeProvider clock, ILogger<BaseModelCatalog> logger) : IHostedService
{
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _work = new(1, 1);
    private IReadOnlyList<BaseModelEntry> _entries = [];
    private IReadOnlyList<BaseModelProblem> _problems = [];

    public BaseModelLibrary Library { get; } = new(paths.BaseModels, clock);

    public IReadOnlyList<BaseModelEntry> Entries { get { lock (_gate) return _entries; } }
    public IReadOnlyList<BaseModelProblem> Problems { get { lock (_gate) return _problems; } }
    /// <summary>The zip being imported now, or null.</summary>
    public string? Importing { get; private set; }
    public BaseModelImportResult? LastImport { get; private set; }

    /// <summary>Raised after a scan or an import finishes, so open pages refresh.</summary>
    public event Action? Changed;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = Task.Run(async () =>
        {
            try { await ScanAsync(lifetime.ApplicationStopping); }
            catch (OperationCanceledException) { }
            catch (Exception e) { logger.LogError(e, "Scanning the base model library at {Folder} failed", Library.Folder); }
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Describes folders placed in the library by hand and reads every entry again.</summary>
    public async Task ScanAsync(CancellationToken ct = default)
    {
        await _work.WaitAsync(ct);
        try
        {
            var problems = await Task.Run(() => Library.Scan(ct), ct);
            var entries = await Task.Run(Library.List, ct);
            lock (_gate) { _problems = problems; _entries = entries; }
        }
        finally { _work.Release(); }
        Changed?.Invoke();
    }

    /// <summary>
    /// Saves an uploaded zip (at most <see cref="StudioPaths.MaxBaseModelUploadBytes"/>) beside the library and
    /// imports it in the background; the returned task is the import, which never throws: its outcome is <see cref="LastImport"/>.
    /// </summary>
    public async Task<Task> UploadAsync(Stream upload, string fileName, CancellationToken ct = default)
    {
        var shownName = Core.Data.SafeFileName.ForDisplay(fileName);
        if (!fileName.EndsWith(".zip", StringComparison.OrdinalIgnoreCase))
            return Task.FromResult(Finish(shownName, false, $"{shownName} is not a .zip. Zip the Hugging Face model folder (config.json, the .safetensors weights, tokenizer.json) and upload the zip."));
        if (Importing is not null)
            return Task.FromResult(Finish(shownName, false, $"{Importing} is being imported now. Wait until it is finished, then upload {shownName} again."));
        var uploads = Path.Combine(paths.Jobs, "base-model-uploads");
        Directory.CreateDirectory(uploads);
        var saved = Path.Combine(uploads, Guid.NewGuid().ToString("N") + ".zip");
        try
        {
            await using (var file = File.Create(saved))
            {
                var buffer = new byte[1 << 20];
                long total = 0;
                int read;
                while ((read = await upload.ReadAsync(buffer, ct)) > 0)
                {
                    total += read;
                    if (total > paths.MaxBaseModelUploadBytes)
                        throw new UserFacingException($"{shownName} is larger than the {paths.MaxBaseModelUploadBytes / (1024 * 1024):N0} MB this portal accepts. Place the unzipped folder under {Library.Folder} on the server instead and press \"Scan again\".");
                    await file.WriteAsync(buffer.AsMemory(0, read), ct);
                }
            }
        }
        catch (Exception e)
        {
            TryDelete(saved);
            return Task.FromResult(Finish(shownName, false, e is UserFacingException ? e.Message : e is OperationCanceledException
                ? $"The upload of {shownName} was interrupted. Upload it again."
                : $"{shownName} could not be saved on the server ({e.Message}). Check the free disk space and upload it again."));
        }
        Importing = shownName;
        Changed?.Invoke();
        var name = SuggestName(fileName);
        return Task.Run(async () =>
        {
            await _work.WaitAsync(lifetime.ApplicationStopping);
            try
            {
                var entry = Library.Import(saved, name, ct: lifetime.ApplicationStopping);
                lock (_gate) _entries = Library.List();
                Record(shownName, true, $"{entry.Name} was added to the library ({entry.Architecture}, {FormatParameters(entry.ParameterCount)} parameters).");
            }
            catch (EngineException e) { Record(shownName, false, $"{shownName} was not added: {e.Message}"); }
            catch (Exception e)
            {
                logger.LogError(e, "Importing base model {File} failed", shownName);
                Record(shownName, false, $"{shownName} was not added because of an error on the server. Nothing was left in the library; ask your administrator to check the server log.");
            }
            finally
            {
                _work.Release();
                TryDelete(saved);
                Importing = null;
                Changed?.Invoke();
            }
        }, CancellationToken.None);
    }

    private Task Finish(string fileName, bool ok, string message)
    {
        Record(fileName, ok, message);
        return Task.CompletedTask;
    }

    private void Record(string fileName, bool ok, string message)
    {
        LastImport = new BaseModelImportResult(fileName, ok, message, clock.GetUtcNow());
        Changed?.Invoke();
    }

    /// <summary>The library name for an uploaded zip: its file name without ".zip", kept to the characters names allow.</summary>
    public static string SuggestName(string fileName)
    {
        var stem = Path.GetFileNameWithoutExtension(Path.GetFileName(fileName));
        var chars = stem.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-').ToArray();
        var name = new string(chars).Trim('-', '.');
        return name.Length == 0 ? "base-model" : name.Length > 80 ? name[..80] : name;
    }

    public static string FormatParameters(long count) => count switch
    {
        >= 1_000_000_000 => $"{count / 1e9:0.#} billion",
        >= 1_000_000 => $"{count / 1e6:0.#} million",
        >= 1_000 => $"{count / 1e3:0.#} thousand",
        _ => count.ToString("N0"),
    };

    public static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.0} GB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MB",
        _ => $"{bytes / 1024.0:0} KB",
    };

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
