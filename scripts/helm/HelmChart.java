// Real Helm (the Helm v3 library of helm-java, resolved from Maven Central by scripts/helm.sh) for
// the chart's tests: lint strictly, or render with values.
//   java -cp "$(bash scripts/helm.sh classpath)/*" scripts/helm/HelmChart.java lint CHART
//   java -cp ... scripts/helm/HelmChart.java template CHART RELEASE NAMESPACE [VALUES_FILE]
// lint prints Helm's messages and exits 1 when it fails; template prints the rendered manifests.
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import java.nio.file.Path;

public class HelmChart {
  public static void main(String[] args) {
    if (args.length >= 2 && args[0].equals("lint")) {
      LintResult result = new Helm(Path.of(args[1])).lint().strict().call();
      for (String message : result.getMessages()) System.out.println(message);
      System.exit(result.isFailed() ? 1 : 0);
    } else if (args.length >= 4 && args[0].equals("template")) {
      TemplateCommand template =
          new Helm(Path.of(args[1])).template().withName(args[2]).withNamespace(args[3]);
      if (args.length >= 5) template = template.withValuesFile(Path.of(args[4]));
      try {
        System.out.print(template.call());
      } catch (RuntimeException e) {
        System.err.println(e.getMessage());
        System.exit(1);
      }
    } else {
      System.err.println("usage: lint CHART | template CHART RELEASE NAMESPACE [VALUES_FILE]");
      System.exit(2);
    }
  }
}
