// Hangfire keeps its storage and configuration in process-wide statics (JobStorage.Current, GlobalConfiguration):
// test hosts built in parallel would hand each other their storage. One host at a time, as in the real portal.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

// The portal's services fail closed when nobody says who runs the code (StudioUserContext). A test that does not say
// otherwise runs as the portal itself, as background jobs do; tests of access rules set the person with
// StudioUserContext.Use.
[assembly: SlmStudio.Web.Tests.RunAsSystem]

namespace SlmStudio.Web.Tests
{
    /// <summary>Runs each test as the portal itself (<see cref="SlmStudio.Web.Security.StudioUserContext.UseSystem"/>).</summary>
    [AttributeUsage(AttributeTargets.Assembly | AttributeTargets.Class | AttributeTargets.Method)]
    public sealed class RunAsSystemAttribute : Xunit.Sdk.BeforeAfterTestAttribute
    {
        private static readonly AsyncLocal<IDisposable?> Scope = new();

        public override void Before(System.Reflection.MethodInfo methodUnderTest) => Scope.Value = SlmStudio.Web.Security.StudioUserContext.UseSystem();

        public override void After(System.Reflection.MethodInfo methodUnderTest) => Scope.Value?.Dispose();
    }
}
