using SlmStudio.Web.Options;

namespace SlmStudio.Web;

/// <summary>Which kind of files: a run's folder (data, checkpoint, trained model, export) or the registered models.</summary>
public enum ArtifactArea { Runs, Models }

/// <summary>
/// Moves a run's and a model's files between the machines of one installation: the portal uploads data and serves
/// registered models, workers train, export and register. The work itself always happens in a local folder; a store
/// says which, and makes it match what the other machines see before (<see cref="CheckOutAsync"/>) and after
/// (<see cref="CheckInAsync"/>) a job. The default, <see cref="SharedFolderArtifactStore"/>, needs neither: every
/// machine mounts the same folder (a network file system), so the folders are the store. An object store
/// (S3-compatible) would download on check-out into a local cache and upload the changed files on check-in; the run
/// lease in the database, not a file lock, then keeps two workers from training one run at once.
/// </summary>
public interface IArtifactStore
{
    /// <summary>The local folder that holds item <paramref name="key"/> of <paramref name="area"/>, made current first
    /// (created when new).</summary>
    Task<string> CheckOutAsync(ArtifactArea area, string key, CancellationToken cancellationToken);

    /// <summary>Makes what this machine wrote in the item's local folder visible to the other machines.</summary>
    Task CheckInAsync(ArtifactArea area, string key, CancellationToken cancellationToken);
}

/// <summary>The run and model folders on a folder every machine mounts (Studio:JobsPath, Studio:ModelsPath): nothing
/// to copy, the file system shares them.</summary>
public sealed class SharedFolderArtifactStore(StudioPaths paths) : IArtifactStore
{
    /// <summary>The key of a run's folder.</summary>
    public static string RunKey(int runId) => $"run-{runId}";

    public string LocalFolder(ArtifactArea area, string key) => area switch
    {
        ArtifactArea.Runs => Path.Combine(paths.Jobs, "runs", key),
        ArtifactArea.Models => Path.Combine(paths.Models, key),
        _ => throw new ArgumentOutOfRangeException(nameof(area)),
    };

    public Task<string> CheckOutAsync(ArtifactArea area, string key, CancellationToken cancellationToken)
    {
        var folder = LocalFolder(area, key);
        Directory.CreateDirectory(folder);
        return Task.FromResult(folder);
    }

    public Task CheckInAsync(ArtifactArea area, string key, CancellationToken cancellationToken) => Task.CompletedTask;
}
