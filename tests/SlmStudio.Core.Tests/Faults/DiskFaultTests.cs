using System.Text.Json;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tests.Training;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Faults;

/// <summary>Issue 14: a full disk stops training with a message naming the disk, and the previous checkpoint survives.</summary>
public sealed class DiskFaultTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("slm-disk");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static IOException DiskFull(string path) => new($"No space left on device : '{path}'");

    [Fact]
    public void AFailedFlushKeepsTheOldFileAndLeavesNoTemporaryFile()
    {
        var path = Path.Combine(_dir, "state.json");
        AtomicFile.WriteAllText(path, "old");
        using (AtomicFile.InjectFault(p => p == path ? DiskFull(p) : null))
            Assert.Throws<IOException>(() => AtomicFile.WriteAllText(path, "new"));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_dir));
        AtomicFile.WriteAllText(path, "new"); // the fault was only for that scope
        Assert.Equal("new", File.ReadAllText(path));
    }

    [Fact]
    public void ADiskThatFillsUpDuringTrainingStopsItWithTheDiskNamedAndKeepsTheLastCheckpoint()
    {
        var data = TrainingFixture.WriteCorpus(_dir, lines: 300);
        var run = Path.Combine(_dir, "run");
        var options = TrainingFixture.Options(data, run, maxSteps: 6, evalEvery: 2);
        var folder = RunFolder.At(run);
        var checkpoints = 0;
        var recorder = new TrainingFixture.Recorder { OnEvent = e => { if (e is CheckpointSaved) checkpoints++; } };

        // The disk fills up after the first checkpoint (step 2): the second one cannot be written.
        using (AtomicFile.InjectFault(p => checkpoints >= 1 && p == folder.CheckpointFile ? DiskFull(p) : null))
        {
            var e = Assert.Throws<EngineException>(() => new Trainer(options, recorder).Run(resume: false, CancellationToken.None));
            Assert.Contains("Could not write the checkpoint", e.Message);
            Assert.Contains("No space left on device", e.Message);
            Assert.Contains("The disk holding it (", e.Message);
            Assert.Contains("free of", e.Message);
            Assert.Contains("previous checkpoint (step 2) is kept", e.Message);
            Assert.IsType<IOException>(e.InnerException);
        }

        var (_, metadata) = SafetensorsFile.ReadWithMetadata(folder.CheckpointFile);
        Assert.Equal(2, JsonDocument.Parse(metadata["state"]).RootElement.GetProperty("Step").GetInt32());
        Assert.Empty(Directory.GetFiles(folder.CheckpointDirectory, "*.tmp"));
        Assert.False(folder.IsTrainerRunning); // the failed trainer let go of the folder

        // Space freed: the run resumes from that checkpoint and finishes.
        var resumed = new TrainingFixture.Recorder();
        var finished = new Trainer(options, resumed).Run(resume: true, CancellationToken.None);
        Assert.Equal(2, resumed.Events.OfType<TrainingStarted>().Single().StartStep);
        Assert.Equal(6, finished.Step);
    }
}
