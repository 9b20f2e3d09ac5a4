set -eu
docker volume ls -q --filter name=saint-essai-fr_ | grep -F -- saint-essai-fr_ || [ "$?" = 1 ]
